// Tests the top report (src/report/top.ts) and value formatting (src/report/format-value.ts).
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { sampleIndexOf, topTable, formatTopTable } = require('../../dist/report/top');
const { formatValue, formatPercent } = require('../../dist/report/format-value');
const { ProfileBuilder } = require('../../dist/model/builder');
const { AllocscopeError } = require('../../dist/errors');
const { buildTopProfile, buildRichProfile, header, nodeMapping } = require('../support/profiles');

/** rowsOf reduces rows to [name, flat, cum] triples for compact comparison. */
const rowsOf = (table) => table.rows.map((r) => [r.name, r.flat, r.cum]);

describe('topTable()', () => {
  it('sums flat and cum per function for bytes, recursion counted once in cum, sorted by flat', () => {
    const table = topTable(buildTopProfile(), 1, 'flat');
    assert.deepEqual(table.sampleType, { type: 'inuse_space', unit: 'bytes' });
    assert.equal(table.total, 1600);
    assert.deepEqual(rowsOf(table), [
      ['(anonymous) lib.js:40', 600, 600],
      ['A', 300, 300],
      ['B', 300, 500],
      ['main', 0, 1200],
    ]);
  });

  it('totals and ranks by magnitude, as pprof does, so diff profiles with negative values read right', () => {
    const profile = buildTopProfile();
    for (const sample of profile.samples) sample.values = sample.values.map((v) => -v);
    const table = topTable(profile, 1, 'flat');
    assert.equal(table.total, 1600);
    assert.deepEqual(rowsOf(table).slice(0, 2), [
      ['(anonymous) lib.js:40', -600, -600],
      ['A', -300, -300],
    ]);
  });

  it('uses the chosen sample index (objects)', () => {
    const table = topTable(buildTopProfile(), 0, 'flat');
    assert.equal(table.total, 15);
    assert.deepEqual(rowsOf(table), [
      ['(anonymous) lib.js:40', 5, 5],
      ['A', 3, 3],
      ['B', 3, 5],
      ['main', 0, 11],
    ]);
  });

  it('sorts by cum when asked', () => {
    const table = topTable(buildTopProfile(), 1, 'cum');
    assert.deepEqual(rowsOf(table), [
      ['main', 0, 1200],
      ['(anonymous) lib.js:40', 600, 600],
      ['B', 300, 500],
      ['A', 300, 300],
    ]);
  });

  it('breaks ties by name', () => {
    const b = new ProfileBuilder(header());
    const m = nodeMapping(b);
    for (const name of ['zeta', 'alpha', 'mid']) {
      b.addSample([b.sourceLocation({ name, filename: 'x.js', startLine: 1, line: 1, column: 1 }, m)], [1, 10]);
    }
    assert.deepEqual(topTable(b.build(), 1, 'flat').rows.map((r) => r.name), ['alpha', 'mid', 'zeta']);
  });

  it('counts samples with an empty stack in the total only', () => {
    const profile = buildTopProfile();
    const withEmpty = topTable(profile, 1, 'flat');
    profile.samples.splice(3, 1);
    const without = topTable(profile, 1, 'flat');
    assert.equal(withEmpty.total - without.total, 400);
    assert.deepEqual(rowsOf(withEmpty), rowsOf(without));
  });

  it('keeps file and start line on rows, and separates same-named functions in different files', () => {
    const b = new ProfileBuilder(header());
    const m = nodeMapping(b);
    const h1 = b.sourceLocation({ name: 'handler', filename: '/a.js', startLine: 3, line: 4, column: 1 }, m);
    const h2 = b.sourceLocation({ name: 'handler', filename: '/b.js', startLine: 8, line: 9, column: 1 }, m);
    b.addSample([h1], [1, 70]);
    b.addSample([h2], [1, 30]);
    const table = topTable(b.build(), 1, 'flat');
    assert.deepEqual(table.rows, [
      { name: 'handler', file: '/a.js', startLine: 3, flat: 70, cum: 70 },
      { name: 'handler', file: '/b.js', startLine: 8, flat: 30, cum: 30 },
    ]);
  });

  it('gives flat to the innermost inlined function and cum to every inlined function', () => {
    const table = topTable(buildRichProfile(), 1, 'flat');
    const row = (name) => table.rows.find((r) => r.name === name);
    assert.deepEqual([row('inner').flat, row('inner').cum], [-1536, -1536]);
    assert.deepEqual([row('outer').flat, row('outer').cum], [0, -1536]);
    assert.deepEqual([row('recurse').flat, row('recurse').cum], [0, 3072]);
    // The total is of magnitudes, as pprof's: |3072| + |-1536| + MAX_SAFE_INTEGER, summed in sample order.
    assert.equal(table.total, buildRichProfile().samples.reduce((sum, s) => sum + Math.abs(s.values[1]), 0));
    assert.ok(table.total > 9007199254740991 + 4000);
  });
});

describe('sampleIndexOf()', () => {
  it('finds a sample type by name', () => {
    const profile = buildTopProfile();
    assert.equal(sampleIndexOf(profile, 'inuse_objects'), 0);
    assert.equal(sampleIndexOf(profile, 'inuse_space'), 1);
  });

  it('accepts a position', () => {
    const profile = buildTopProfile();
    assert.equal(sampleIndexOf(profile, '0'), 0);
    assert.equal(sampleIndexOf(profile, '1'), 1);
  });

  it('defaults to the default sample type', () => {
    assert.equal(sampleIndexOf(buildTopProfile({ defaultSampleType: 'inuse_objects' }), undefined), 0);
    assert.equal(sampleIndexOf(buildTopProfile(), undefined), 1);
  });

  it('falls back to the last sample type without a (matching) default', () => {
    const sampleTypes = [{ type: 'a', unit: 'count' }, { type: 'b', unit: 'bytes' }, { type: 'c', unit: 'count' }];
    const profile = { ...buildTopProfile(), sampleTypes, defaultSampleType: '' };
    assert.equal(sampleIndexOf(profile, undefined), 2);
    assert.equal(sampleIndexOf({ ...profile, defaultSampleType: 'nope' }, undefined), 2);
    assert.equal(sampleIndexOf({ ...profile, defaultSampleType: 'a' }, undefined), 0);
  });

  for (const spec of ['alloc_space', '2', '-1', '1.0']) {
    it(`throws ERR_USAGE naming the available types for '${spec}'`, () => {
      assert.throws(() => sampleIndexOf(buildTopProfile(), spec), (error) => {
        assert.ok(error instanceof AllocscopeError);
        assert.equal(error.code, 'ERR_USAGE');
        assert.equal(error.message, `sample index '${spec}' is not in this profile; it has inuse_objects, inuse_space`);
        return true;
      });
    });
  }

  it('throws ERR_INVALID_PROFILE for a profile without sample types', () => {
    const profile = { ...buildTopProfile(), sampleTypes: [], samples: [] };
    assert.throws(() => sampleIndexOf(profile, undefined), { name: 'AllocscopeError', code: 'ERR_INVALID_PROFILE' });
  });
});

describe('formatTopTable()', () => {
  it('renders header lines, columns and places', () => {
    const text = formatTopTable(topTable(buildTopProfile(), 1, 'flat'), 10);
    assert.equal(
      text,
      [
        'Type: inuse_space',
        'Showing nodes accounting for 1.17kB, 75.00% of 1.56kB total',
        'flat  flat%   sum%    cum   cum%',
        '600B 37.50% 37.50%   600B 37.50%  (anonymous) lib.js:40',
        '300B 18.75% 56.25%   300B 18.75%  A /app/lib.js:10',
        '300B 18.75% 75.00%   500B 31.25%  B /app/lib.js:20',
        '  0B  0.00% 75.00% 1.17kB 75.00%  main /app/main.js:1',
        '',
      ].join('\n'),
    );
  });

  it("says 'Showing top N nodes out of M' only when rows are cut", () => {
    const table = topTable(buildTopProfile(), 1, 'flat');
    const cut = formatTopTable(table, 2).split('\n');
    assert.deepEqual(cut.slice(0, 3), [
      'Type: inuse_space',
      'Showing nodes accounting for 900B, 56.25% of 1.56kB total',
      'Showing top 2 nodes out of 4',
    ]);
    assert.equal(cut[3], 'flat  flat%   sum%  cum   cum%');
    assert.equal(cut.length, 7);
    assert.doesNotMatch(formatTopTable(table, 4), /Showing top/);
  });

  it('prints counts as integers', () => {
    const lines = formatTopTable(topTable(buildTopProfile(), 0, 'cum'), 1).split('\n');
    assert.equal(lines[0], 'Type: inuse_objects');
    assert.equal(lines[1], 'Showing nodes accounting for 0, 0.00% of 15 total');
    assert.equal(lines[4], '   0 0.00% 0.00%  11 73.33%  main /app/main.js:1');
  });

  it('does not repeat the place of anonymous functions, nor print empty files or start line 0', () => {
    const b = new ProfileBuilder(header());
    const m = nodeMapping(b);
    const frame = (name, filename, startLine) => b.sourceLocation({ name, filename, startLine, line: startLine, column: 0 }, m);
    b.addSample([frame('(anonymous) app.js:12', '/srv/app.js', 12)], [1, 4]);
    b.addSample([frame('(anonymous)', '', 0)], [1, 3]);
    b.addSample([frame('noLine', '/srv/x.js', 0)], [1, 2]);
    const names = formatTopTable(topTable(b.build(), 1, 'flat'), 10).trimEnd().split('\n').slice(3).map((l) => l.split('  ').pop());
    assert.deepEqual(names, ['(anonymous) app.js:12', '(anonymous)', 'noLine /srv/x.js']);
  });

  it('renders a profile without samples with 0% rather than NaN', () => {
    const profile = { ...buildTopProfile(), samples: [] };
    const text = formatTopTable(topTable(profile, 1, 'flat'), 10);
    assert.equal(text, 'Type: inuse_space\nShowing nodes accounting for 0B, 0% of 0B total\nflat flat% sum% cum cum%\n');
  });
});

describe('formatValue()', () => {
  const cases = [
    [0, 'bytes', '0B'],
    [1023, 'bytes', '1023B'],
    [1024, 'bytes', '1kB'],
    [1536, 'bytes', '1.50kB'],
    [1048576, 'bytes', '1MB'],
    [1572864, 'bytes', '1.50MB'],
    [3 * 1024 ** 3, 'bytes', '3GB'],
    [2 * 1024 ** 4, 'bytes', '2TB'],
    [-5, 'bytes', '-5B'],
    [-1536, 'bytes', '-1.50kB'],
    [-1048576, 'bytes', '-1MB'],
    [0, 'count', '0'],
    [12, 'count', '12'],
    [1048576, 'count', '1048576'],
    [-3, 'count', '-3'],
    [1.5, 'count', '1.50'],
  ];
  for (const [value, unit, expected] of cases) {
    it(`formats ${value} ${unit} as ${expected}`, () => {
      assert.equal(formatValue(value, unit), expected);
    });
  }
});

describe('formatPercent()', () => {
  it('formats a share with two decimals', () => {
    assert.equal(formatPercent(1, 3), '33.33%');
    assert.equal(formatPercent(3, 3), '100.00%');
    assert.equal(formatPercent(-1, 4), '-25.00%');
  });

  it("returns '0%' of a zero total", () => {
    assert.equal(formatPercent(0, 0), '0%');
    assert.equal(formatPercent(5, 0), '0%');
  });
});
