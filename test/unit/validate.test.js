// Tests validateProfile() (src/model/validate.ts), the port of pprof's Profile.CheckValid: one test per rule.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { validateProfile } = require('../../dist/model/validate');
const { AllocscopeError } = require('../../dist/errors');
const { buildTopProfile, buildRichProfile } = require('../support/profiles');

/** assertInvalid checks validateProfile throws ERR_INVALID_PROFILE with a message matching `pattern`. */
function assertInvalid(profile, pattern) {
  assert.throws(
    () => validateProfile(profile),
    (error) => {
      assert.ok(error instanceof AllocscopeError, `expected AllocscopeError, got ${error}`);
      assert.equal(error.code, 'ERR_INVALID_PROFILE');
      assert.equal(error.name, 'AllocscopeError');
      assert.match(error.message, /^invalid profile: /);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('validateProfile()', () => {
  describe('valid profiles', () => {
    it('accepts a profile built with ProfileBuilder, recursion and an empty stack included', () => {
      const profile = buildTopProfile();
      assert.equal(validateProfile(profile), undefined);
    });

    it('accepts a profile using every field: no-mapping locations, inlined lines, labels, negative values', () => {
      assert.equal(validateProfile(buildRichProfile()), undefined);
    });

    it('accepts an empty profile without sample types or samples', () => {
      const profile = buildTopProfile({ sampleTypes: [] });
      profile.samples = [];
      assert.doesNotThrow(() => validateProfile(profile));
    });
  });

  describe('samples', () => {
    it('rejects samples without sample types', () => {
      const profile = buildTopProfile({ sampleTypes: [] });
      assertInvalid(profile, /missing sample type information/);
    });

    it('rejects a sample whose value count differs from the sample types', () => {
      const profile = buildTopProfile();
      profile.samples[2].values.push(7);
      assertInvalid(profile, /mismatch: sample has 3 values vs\. 2 types/);
    });

    it('rejects a sample with too few values', () => {
      const profile = buildTopProfile();
      profile.samples[0].values = [1];
      assertInvalid(profile, /mismatch: sample has 1 values vs\. 2 types/);
    });

    it('rejects a nil sample', () => {
      const profile = buildTopProfile();
      profile.samples.splice(1, 0, null);
      assertInvalid(profile, /profile has nil sample/);
    });

    it('rejects a nil location in a sample', () => {
      const profile = buildTopProfile();
      profile.samples[0].locations.splice(1, 0, undefined);
      assertInvalid(profile, /sample has nil location/);
    });

    it('rejects a sample location that is not the table object with that id', () => {
      const profile = buildTopProfile();
      const loc = profile.samples[0].locations[0];
      profile.samples[0].locations[0] = { ...loc, lines: [...loc.lines] };
      assertInvalid(profile, new RegExp(`sample has location id ${loc.id} that is not in the location table`));
    });

    it('rejects a sample location whose id is not in the table at all', () => {
      const profile = buildTopProfile();
      const loc = profile.samples[1].locations[1];
      profile.samples[1].locations[1] = { ...loc, id: 99 };
      assertInvalid(profile, /sample has location id 99 that is not in the location table/);
    });
  });

  describe('nil table entries', () => {
    for (const [table, kind] of [['mappings', 'mapping'], ['functions', 'function'], ['locations', 'location']]) {
      it(`rejects a nil ${kind} in profile.${table}`, () => {
        const profile = buildTopProfile();
        profile[table].push(null);
        assertInvalid(profile, new RegExp(`profile has nil ${kind}$`));
      });
    }
  });

  describe('reserved id 0', () => {
    for (const [table, kind] of [['mappings', 'mapping'], ['functions', 'function'], ['locations', 'location']]) {
      it(`rejects a ${kind} with id 0`, () => {
        const profile = buildTopProfile();
        profile[table][profile[table].length - 1].id = 0;
        assertInvalid(profile, new RegExp(`found ${kind} with reserved id=0`));
      });
    }
  });

  describe('duplicate ids', () => {
    for (const [table, kind] of [['mappings', 'mapping'], ['functions', 'function'], ['locations', 'location']]) {
      it(`rejects two ${kind}s with the same id`, () => {
        const profile = buildTopProfile();
        const first = profile[table][0];
        profile[table].push({ ...first });
        assertInvalid(profile, new RegExp(`multiple ${kind}s with same id: ${first.id}$`));
      });
    }

    it('rejects a duplicate id that is not adjacent to the first', () => {
      const profile = buildTopProfile();
      profile.functions[3].id = profile.functions[1].id;
      assertInvalid(profile, /multiple functions with same id: 2/);
    });
  });

  describe('location mappings', () => {
    it('rejects a location whose mapping is a copy, not the table object with that id', () => {
      const profile = buildTopProfile();
      const loc = profile.locations[2];
      loc.mapping = { ...loc.mapping };
      assertInvalid(profile, new RegExp(`location id ${loc.id} has inconsistent mapping id 1`));
    });

    it('rejects a location whose mapping id is not in the table', () => {
      const profile = buildTopProfile();
      profile.locations[0].mapping = { ...profile.mappings[0], id: 42 };
      assertInvalid(profile, /location id 1 has inconsistent mapping id 42/);
    });

    it('rejects a location whose mapping has id 0', () => {
      const profile = buildTopProfile();
      profile.locations[1].mapping = { ...profile.mappings[0], id: 0 };
      assertInvalid(profile, /location id 2 has inconsistent mapping id 0/);
    });

    it('accepts a location without a mapping', () => {
      const profile = buildTopProfile();
      profile.locations[1].mapping = undefined;
      assert.doesNotThrow(() => validateProfile(profile));
    });

    it('accepts null as "no mapping", as plain-JS callers may write it', () => {
      const profile = buildTopProfile();
      profile.locations[1].mapping = null;
      assert.doesNotThrow(() => validateProfile(profile));
    });
  });

  describe('location lines', () => {
    it('rejects a line whose function is a copy, not the table object with that id', () => {
      const profile = buildTopProfile();
      const loc = profile.locations[3];
      const fn = loc.lines[0].function;
      loc.lines[0].function = { ...fn };
      assertInvalid(profile, new RegExp(`location id ${loc.id} has inconsistent function id ${fn.id}`));
    });

    it('rejects a line whose function id is not in the table', () => {
      const profile = buildTopProfile();
      profile.locations[0].lines[0].function = { ...profile.functions[0], id: 77 };
      assertInvalid(profile, /location id 1 has inconsistent function id 77/);
    });

    it('rejects a second (inlined) line with an inconsistent function', () => {
      const profile = buildRichProfile();
      const inlined = profile.locations.find((l) => l.lines.length === 2);
      inlined.lines[1].function = { ...inlined.lines[1].function };
      assertInvalid(profile, new RegExp(`location id ${inlined.id} has inconsistent function id`));
    });

    it('rejects a line with a nil function', () => {
      const profile = buildTopProfile();
      profile.locations[2].lines[0].function = undefined;
      assertInvalid(profile, /location id 3 has a line with nil function/);
    });

    it('rejects a line with a null function', () => {
      const profile = buildTopProfile();
      profile.locations[4].lines[0].function = null;
      assertInvalid(profile, /location id 5 has a line with nil function/);
    });
  });
});
