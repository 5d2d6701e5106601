// `allocscope convert`: real profiles into Speedscope's JSON (checked against its schema and opened in Speedscope) and Chrome's .heapprofile.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, tempDir, runCli, readProfile } = require('../support/cli');
const { missingTool } = require('../support/tools');
const { openInSpeedscope, CHROMIUM } = require('../support/speedscope');
const { encode } = require('../../dist/index.js');

const LEAK = path.join(FIXTURES, 'leak-and-churn.js');
// The schema ships with the speedscope package: read its required fields rather than copy them.
const SCHEMA = JSON.parse(fs.readFileSync(require.resolve('speedscope/dist/release/file-format-schema.json'), 'utf8'));
const DEFINITIONS = SCHEMA.definitions;

/** checkSpeedscopeSchema asserts what the schema requires of a file of sampled profiles, by hand. */
function checkSpeedscopeSchema(file) {
  const spec = DEFINITIONS['FileFormat.File'];
  for (const field of spec.required) assert.ok(field in file, `file has ${field}`);
  assert.equal(file.$schema, spec.properties.$schema.const);
  assert.equal(typeof file.name, 'string');
  assert.equal(typeof file.exporter, 'string');
  assert.ok(Number.isInteger(file.activeProfileIndex) && file.activeProfileIndex >= 0 && file.activeProfileIndex < file.profiles.length);
  for (const field of spec.properties.shared.required) assert.ok(field in file.shared, `shared has ${field}`);
  const frameSpec = DEFINITIONS['FileFormat.Frame'];
  for (const frame of file.shared.frames) {
    for (const field of frameSpec.required) assert.ok(field in frame, `frame ${JSON.stringify(frame)} has ${field}`);
    for (const [field, value] of Object.entries(frame)) {
      assert.ok(field in frameSpec.properties, `frame field ${field} is in the schema`);
      assert.equal(typeof value, frameSpec.properties[field].type, `frame ${field}`);
    }
  }
  const keys = file.shared.frames.map((f) => `${f.name}\0${f.file}\0${f.line}`);
  assert.equal(new Set(keys).size, keys.length, 'frames are deduplicated by name, file and line');
  const profileSpec = DEFINITIONS['FileFormat.SampledProfile'];
  const units = DEFINITIONS['FileFormat.ValueUnit'].enum;
  for (const profile of file.profiles) {
    for (const field of profileSpec.required) assert.ok(field in profile, `profile ${profile.name} has ${field}`);
    assert.equal(profile.type, profileSpec.properties.type.const);
    assert.ok(units.includes(profile.unit), `unit ${profile.unit}`);
    assert.equal(profile.samples.length, profile.weights.length);
    assert.equal(profile.startValue, 0);
    for (const stack of profile.samples) {
      for (const frame of stack) assert.ok(Number.isInteger(frame) && frame >= 0 && frame < file.shared.frames.length);
    }
    assert.ok(profile.weights.every((w) => typeof w === 'number' && w > 0), 'weights are positive (zero samples skipped)');
  }
}

/** totals sums each sample type's values in a pprof profile. */
function totals(profile) {
  return profile.sampleTypes.map((_, i) => profile.samples.reduce((sum, s) => sum + s.values[i], 0));
}

function framesNamed(file, profile, name) {
  return profile.samples.filter((stack) => stack.some((frame) => file.shared.frames[frame].name === name));
}

describe('allocscope convert', () => {
  let dir;
  let heapFile;
  let nativeFile;
  before(() => {
    dir = tempDir();
    const run = runCli(['run', '--out', dir, '--', process.execPath, LEAK, 'exit']);
    assert.equal(run.status, 0, run.stderr);
    const named = (suffix) => fs.readdirSync(dir).filter((name) => name.endsWith(suffix)).map((name) => path.join(dir, name));
    [heapFile] = named('.heap.pb.gz');
    [nativeFile] = named('.native.pb.gz');
    assert.ok(heapFile && nativeFile, `a heap and a native profile in ${fs.readdirSync(dir)}`);
  });

  const convert = (file, to, out) => runCli(['convert', file, '--to', to, '-o', out]);

  it('writes a heap profile as Speedscope JSON: one profile per sample type, root-first stacks, totals kept', () => {
    const out = path.join(dir, 'heap.speedscope.json');
    const result = convert(heapFile, 'speedscope', out);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.ok(!fs.existsSync(`${out}.tmp`), 'no temporary file left');
    const file = JSON.parse(fs.readFileSync(out, 'utf8'));
    checkSpeedscopeSchema(file);
    const profile = readProfile(heapFile);
    assert.match(file.exporter, /^allocscope \d+\.\d+\.\d+/);
    assert.equal(file.name, path.basename(heapFile));
    assert.deepEqual(file.profiles.map((p) => p.name), ['inuse_objects', 'inuse_space']);
    assert.deepEqual(file.profiles.map((p) => p.unit), ['none', 'bytes']);
    assert.equal(file.profiles[file.activeProfileIndex].name, 'inuse_space', 'the default sample type is shown first');
    totals(profile).forEach((total, i) => {
      const weights = file.profiles[i].weights.reduce((sum, w) => sum + w, 0);
      assert.equal(weights, total, `${file.profiles[i].name}: weights sum to the profile's total`);
      assert.equal(file.profiles[i].endValue, total);
    });
    const space = file.profiles[1];
    const leaking = framesNamed(file, space, 'leakIntoCache');
    assert.ok(leaking.length > 0, 'a stack through leakIntoCache');
    for (const stack of leaking) {
      // Root first: the timer machinery calls the fixture's callback, which calls leakIntoCache.
      assert.equal(file.shared.frames[stack.at(-1)].name, 'leakIntoCache', 'leakIntoCache allocated it itself: the leaf is last');
      const timers = stack.findIndex((frame) => file.shared.frames[frame].name === 'processTimers');
      assert.ok(timers >= 0 && timers < stack.length - 1, 'processTimers comes before leakIntoCache');
    }
    const leakFrame = file.shared.frames.find((f) => f.name === 'leakIntoCache');
    assert.equal(leakFrame.file, LEAK);
    assert.equal(leakFrame.line, 8, 'the line leakIntoCache starts on');
    const leaked = leaking.reduce((sum, stack) => sum + space.weights[space.samples.indexOf(stack)], 0);
    assert.ok(leaked > 0.7 * space.endValue, `leakIntoCache holds ${leaked} of ${space.endValue}`);
  });

  it('writes a native profile as Speedscope JSON with its four sample types', () => {
    const out = path.join(dir, 'native.speedscope.json');
    const result = convert(nativeFile, 'speedscope', out);
    assert.equal(result.status, 0, result.stderr);
    const file = JSON.parse(fs.readFileSync(out, 'utf8'));
    checkSpeedscopeSchema(file);
    const profile = readProfile(nativeFile);
    assert.deepEqual(file.profiles.map((p) => p.name), ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space']);
    assert.deepEqual(file.profiles.map((p) => p.unit), ['none', 'bytes', 'none', 'bytes']);
    totals(profile).forEach((total, i) => {
      assert.equal(file.profiles[i].weights.reduce((sum, w) => sum + w, 0), total, file.profiles[i].name);
    });
    assert.ok(file.profiles[1].endValue > 0, 'the run allocated native memory');
    // Native frames that could not be symbolized keep their address, and their binary when known (not for JIT code).
    for (const location of profile.locations.filter((l) => l.lines.length === 0)) {
      const frame = file.shared.frames.find((f) => f.name === `0x${location.address.toString(16)}`);
      assert.ok(frame, `a frame for ${location.address.toString(16)}`);
      assert.equal(frame.file, location.mapping?.file || undefined);
    }
  });

  it('opens in Speedscope: the converted JSON (and the .heapprofile, which Speedscope also reads) load and list leakIntoCache', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const files = {
      heap: path.join(dir, 'open-heap.speedscope.json'),
      native: path.join(dir, 'open-native.speedscope.json'),
      chrome: path.join(dir, 'open.heapprofile'),
    };
    assert.equal(convert(heapFile, 'speedscope', files.heap).status, 0);
    assert.equal(convert(nativeFile, 'speedscope', files.native).status, 0);
    assert.equal(convert(heapFile, 'heapprofile', files.chrome).status, 0);
    const [heap, native, chrome] = await openInSpeedscope([files.heap, files.native, files.chrome]);
    for (const result of [heap, native, chrome]) {
      const name = path.basename(result.file);
      assert.ok(result.loaded, `${name}: title "${result.title}", alerts ${JSON.stringify(result.alerts)}, errors ${JSON.stringify(result.errors)}`);
    }
    assert.match(heap.importer, /speedscope json/, 'read as Speedscope\'s own format, not guessed');
    assert.match(native.importer, /speedscope json/);
    assert.match(chrome.importer, /Chrome Heap Profile/i);
    assert.match(heap.sandwich, /\d+(\.\d+)? MB \(\d+(\.\d+)?%\)\s+\d+(\.\d+)? MB \(\d+(\.\d+)?%\)\s+leakIntoCache/, 'leakIntoCache with its MBs');
    assert.match(chrome.sandwich, /MB \(\d+(\.\d+)?%\)\s+leakIntoCache/);
    // Nothing may be in use natively at exit: then the active inuse_space profile is empty.
    assert.match(native.sandwich, /\d+(\.\d+)? (B|KB|MB) \(|No symbols found/);
  });

  it('writes a heap profile as a .heapprofile call tree: sizes add up, ids unique, samples point at nodes', () => {
    const out = path.join(dir, 'heap.heapprofile');
    const result = convert(heapFile, 'heapprofile', out);
    assert.equal(result.status, 0, result.stderr);
    const heap = JSON.parse(fs.readFileSync(out, 'utf8'));
    const profile = readProfile(heapFile);
    const inuseSpace = totals(profile)[profile.sampleTypes.findIndex((t) => t.type === 'inuse_space')];

    const nodes = [];
    const parents = new Map();
    const walk = (node, parent) => {
      nodes.push(node);
      parents.set(node, parent);
      assert.deepEqual(Object.keys(node).sort(), ['callFrame', 'children', 'id', 'selfSize']);
      assert.deepEqual(Object.keys(node.callFrame).sort(), ['columnNumber', 'functionName', 'lineNumber', 'scriptId', 'url']);
      assert.equal(typeof node.callFrame.scriptId, 'string');
      for (const child of node.children) walk(child, node);
    };
    walk(heap.head, undefined);
    assert.equal(heap.head.callFrame.functionName, '(root)');
    const ids = nodes.map((n) => n.id);
    assert.equal(new Set(ids).size, ids.length, 'node ids are unique');
    assert.equal(nodes.reduce((sum, n) => sum + n.selfSize, 0), inuseSpace, 'selfSize adds up to inuse_space');

    const byId = new Map(nodes.map((n) => [n.id, n]));
    assert.ok(heap.samples.length > 0);
    for (const sample of heap.samples) {
      assert.deepEqual(Object.keys(sample).sort(), ['nodeId', 'ordinal', 'size']);
      assert.ok(byId.has(sample.nodeId), `sample node ${sample.nodeId} exists`);
    }
    assert.equal(heap.samples.reduce((sum, s) => sum + s.size, 0), inuseSpace);
    assert.equal(new Set(heap.samples.map((s) => s.ordinal)).size, heap.samples.length, 'ordinals are unique');

    const leak = nodes.find((n) => n.callFrame.functionName === 'leakIntoCache');
    assert.ok(leak, 'leakIntoCache is a node');
    assert.equal(leak.callFrame.url, LEAK);
    assert.equal(leak.callFrame.lineNumber, 7, 'DevTools lines are 0-based: leakIntoCache starts on line 8');
    assert.ok(leak.selfSize > 0.7 * inuseSpace, `leakIntoCache holds ${leak.selfSize} of ${inuseSpace}`);
    // Root first: leakIntoCache sits below the timers that ran it, not at the top.
    const ancestors = [];
    for (let n = parents.get(leak); n !== undefined; n = parents.get(n)) ancestors.push(n.callFrame.functionName);
    assert.ok(ancestors.includes('processTimers'), `ancestors: ${ancestors}`);
    assert.equal(ancestors.at(-1), '(root)');
  });

  it('refuses a native profile as heapprofile: exit 2, one line naming the file and the way out', () => {
    const out = path.join(dir, 'native.heapprofile');
    const result = convert(nativeFile, 'heapprofile', out);
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      `allocscope: heapprofile is Chrome's format for JS heap profiles; ${nativeFile} is a native profile: use --to speedscope\n`,
    );
    assert.ok(!fs.existsSync(out) && !fs.existsSync(`${out}.tmp`), 'nothing written');
  });

  it('refuses negative values (a diff profile) for Speedscope rather than showing them as growth', () => {
    const profile = readProfile(heapFile);
    profile.samples[0].values = profile.samples[0].values.map((v) => -v - 1);
    const diff = path.join(dir, 'negative.pb.gz');
    fs.writeFileSync(diff, encode(profile));
    const out = path.join(dir, 'negative.json');
    const result = convert(diff, 'speedscope', out);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^allocscope: .*negative\.pb\.gz: speedscope cannot show negative weights, and inuse_objects has negative values/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.ok(!fs.existsSync(out));
    assert.equal(convert(diff, 'heapprofile', out).status, 2);
  });

  it('exits 2 for an unknown or missing --to (suggesting the closest format) and a missing -o', () => {
    const out = path.join(dir, 'never.json');
    const typo = convert(heapFile, 'speedscop', out);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^allocscope: unknown format 'speedscop' \(did you mean 'speedscope'\?\); formats: speedscope, heapprofile\n/);
    const other = convert(heapFile, 'flamegraph', out);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /unknown format 'flamegraph'/);
    const noTo = runCli(['convert', heapFile, '-o', out]);
    assert.equal(noTo.status, 2);
    assert.match(noTo.stderr, /--to is required: speedscope or heapprofile/);
    const noOut = runCli(['convert', heapFile, '--to', 'speedscope']);
    assert.equal(noOut.status, 2);
    assert.match(noOut.stderr, /^allocscope: -o OUT is required/);
    const noFile = runCli(['convert', '--to', 'speedscope', '-o', out]);
    assert.equal(noFile.status, 2);
    assert.ok(!fs.existsSync(out));
  });

  it('exits 1 naming the file for a corrupt, missing or unwritable file', () => {
    const corrupt = path.join(dir, 'corrupt.pb.gz');
    fs.writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7]));
    const out = path.join(dir, 'corrupt.json');
    const result = convert(corrupt, 'speedscope', out);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`^allocscope: ${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+\n$`));
    assert.ok(!fs.existsSync(out));
    const missing = convert(path.join(dir, 'no-such.pb.gz'), 'speedscope', out);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no-such\.pb\.gz: no such file\n$/);
    const unwritable = path.join(dir, 'no-such-dir', 'out.json');
    const write = convert(heapFile, 'speedscope', unwritable);
    assert.equal(write.status, 1);
    assert.equal(write.stderr, `allocscope: ${unwritable}: its directory does not exist\n`);
  });

  it('has help with an example, and is listed in allocscope --help', () => {
    const help = runCli(['convert', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: allocscope convert FILE --to FORMAT -o OUT/);
    assert.match(help.stdout, /Example:\n\s+allocscope convert .*\.heap\.pb\.gz/);
    assert.match(runCli(['--help']).stdout, /^\s+convert\s/m);
  });
});
