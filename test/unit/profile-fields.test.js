// Tests src/format/profile-fields.ts against profile.proto, and that recording never loads protobufjs.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { PROFILE_FIELDS } = require('../../dist/format/profile-fields');
const { profileMessageType } = require('../../dist/format/profile-schema');

const ROOT = path.join(__dirname, '..', '..');

describe('PROFILE_FIELDS', () => {
  it('gives every field the number profile.proto declares, and leaves out only doc_url', () => {
    const root = profileMessageType().root;
    for (const [message, fields] of Object.entries(PROFILE_FIELDS)) {
      const type = root.lookupType(`perftools.profiles.${message}`);
      for (const [name, number] of Object.entries(fields)) {
        const declared = type.fields[name];
        assert.ok(declared !== undefined, `profile.proto: ${message} has no field ${name}`);
        assert.equal(number, declared.id, `${message}.${name}`);
      }
    }
    // Every field of these messages, so that none is left out by mistake; allocscope writes no
    // documentation link (Profile.doc_url).
    const unwritten = Object.keys(PROFILE_FIELDS).flatMap((m) =>
      root.lookupType(`perftools.profiles.${m}`).fieldsArray.filter((f) => !(f.name in PROFILE_FIELDS[m])).map((f) => `${m}.${f.name}`));
    assert.deepEqual(unwritten, ['Profile.docUrl']);
  });
});

describe('loading for recording', () => {
  // protobufjs's modules and its reflection of profile.proto held ~0.8 MB of the recorded
  // process's heap; only decoding needs them.
  it('keeps protobufjs out of a process that records and encodes, and loads it on the first decode', () => {
    const script = `
      const allocscope = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const loaded = () => Object.keys(require.cache).some((file) => file.includes('protobufjs'));
      allocscope.heap.start();
      const bytes = allocscope.encode(allocscope.heap.profile());
      const beforeDecode = loaded();
      allocscope.heap.stop();
      const samples = allocscope.decode(bytes).sampleTypes.length;
      console.log(JSON.stringify({ beforeDecode, afterDecode: loaded(), samples }));
    `;
    const run = spawnSync(process.execPath, ['-r', path.join(ROOT, 'dist', 'register.js'), '-e', script], {
      encoding: 'utf8', env: { ...process.env, ALLOCSCOPE_HEAP: '0', ALLOCSCOPE_NATIVE: '0' },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { beforeDecode: false, afterDecode: true, samples: 2 });
  });
});
