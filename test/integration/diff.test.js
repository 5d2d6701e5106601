// `allocscope diff` on real profiles of a growing program: ranking, --json, -o with go tool pprof, and its errors.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { FIXTURES, tempDir, runCli, profilesIn, readProfile, assertOneLineError } = require('../support/cli');
const { missingTool } = require('../support/tools');
const { header, nodeMapping, buildRichProfile } = require('../support/profiles');
const { encode, decode } = require('../../dist/index.js');
const { ProfileBuilder } = require('../../dist/model/builder');
const { diffSites, diffProfile } = require('../../dist/report/diff');
const { AllocscopeError } = require('../../dist/errors');

const GROW = path.join(FIXTURES, 'diff', 'grow.js');

function pprof(args, cwd) {
  // An empty PPROF_TMPDIR/HOME keeps pprof from writing into the user's ~/pprof.
  const home = tempDir('allocscope-pprof-home-');
  return spawnSync('go', ['tool', 'pprof', ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOME: home, PPROF_TMPDIR: home } });
}

/** siteLines: the table's rows (after the header lines), as [function, the rest]. */
function siteLines(stdout) {
  return stdout.trimEnd().split('\n').filter((line) => / size=/.test(line)).map((line) => [line.split(' ')[0], line]);
}

/** The (signed) change of a row's size, in bytes or objects: `size=16MB (+11.5MB)` -> 12058624. */
function sizeDeltaOf(line) {
  const [, number, suffix] = /size=\S+ \(([-+]?[\d.]+)(B|kB|MB|GB)?\)/.exec(line);
  const scale = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[suffix ?? 'B'];
  return Number(number) * scale;
}

describe('allocscope diff on profiles of a growing program', () => {
  let dir;
  let early;
  let late;
  let native;
  before(() => {
    dir = tempDir();
    // A small interval: enough samples that one of allocscope's own allocations, scaled up for
    // sampling, cannot outweigh the fixture's growth, even when a loaded machine runs few rounds.
    const run = runCli(['run', '--out', dir, '--every', '0.3', '--interval', '64k', '--', process.execPath, GROW]);
    assert.equal(run.status, 0, run.stderr);
    const files = profilesIn(dir);
    assert.ok(files.length >= 3, `periodic and final profiles, got ${files.length}`);
    // The first periodic profile, and the final one (taken after a full GC, so churn is gone).
    early = files[0];
    late = files.at(-1);
    native = fs.readdirSync(dir).filter((name) => name.endsWith('.native.pb.gz')).map((name) => path.join(dir, name))[0];
  });

  it('ranks the growing function first with a positive change, the churning one never above it', () => {
    const result = runCli(['diff', early, late]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^Type: inuse_space; total growth [-+]?[\d.]+\w*B \([\d.]+\w*B -> [\d.]+\w*B\)\n/);
    const rows = siteLines(result.stdout);
    assert.ok(rows.length > 0 && rows.length <= 20, result.stdout);
    assert.equal(rows[0][0], 'growCache', result.stdout);
    assert.match(rows[0][1], /^growCache \S+grow\.js:\d+ +size=[\d.]+MB \(\+[\d.]+MB\) +count=\d+ \(\+\d+\)$/);
    assert.ok(sizeDeltaOf(rows[0][1]) > 1024 * 1024, rows[0][1]);
    const churn = rows.findIndex(([name]) => name === 'churnGarbage');
    assert.ok(churn === -1 || churn > 0, result.stdout);
    // Growth first, shrinking last.
    const deltas = rows.map(([, line]) => sizeDeltaOf(line));
    assert.deepEqual(deltas, [...deltas].sort((a, b) => b - a), result.stdout);
  });

  it('--json prints one object per site with the fields, in the order of diffSites', () => {
    const result = runCli(['diff', '--json', early, late]);
    assert.equal(result.status, 0, result.stderr);
    const sites = JSON.parse(result.stdout);
    assert.ok(Array.isArray(sites) && sites.length > 0);
    for (const site of sites) {
      assert.deepEqual(Object.keys(site), ['function', 'file', 'line', 'size', 'sizeDelta', 'count', 'countDelta']);
      for (const key of ['line', 'size', 'sizeDelta', 'count', 'countDelta']) assert.equal(typeof site[key], 'number', key);
    }
    assert.equal(sites[0].function, 'growCache');
    assert.equal(sites[0].file, GROW);
    assert.ok(sites[0].sizeDelta > 1024 * 1024 && sites[0].countDelta > 0, JSON.stringify(sites[0]));
    const rows = diffSites(readProfile(early), readProfile(late));
    assert.deepEqual(sites.map((s) => [s.function, s.sizeDelta]), rows.map((r) => [r.site.name, r.delta]), 'all sites, same order');
    assert.equal(JSON.parse(runCli(['diff', '--json', '--nodes', '2', early, late]).stdout).length, Math.min(2, sites.length));
  });

  it('--sample-index inuse_objects compares object counts', () => {
    const result = runCli(['diff', '--sample-index', 'inuse_objects', early, late]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Type: inuse_objects; total growth [-+]?\d+ \(\d+ -> \d+\)\n/);
    // The early profile holds churn garbage (periodic profiles skip the GC), so the total may shrink.
    // Object counts of sampled small objects are noisy: growCache grows, churnGarbage not more.
    const rows = siteLines(result.stdout);
    const grow = rows.findIndex(([name]) => name === 'growCache');
    const churn = rows.findIndex(([name]) => name === 'churnGarbage');
    assert.ok(grow >= 0 && (churn === -1 || churn > grow), result.stdout);
    assert.match(rows[grow][1], /size=\d+ \(\+\d+\)$/, 'counts as whole numbers, no count column');
    const json = JSON.parse(runCli(['diff', '--json', '--sample-index', 'inuse_objects', early, late]).stdout);
    const growing = json.find((site) => site.function === 'growCache');
    assert.equal(growing.count, null);
    assert.ok(growing.sizeDelta > 0);
  });

  it('-o writes the change as a pprof profile (atomically) and still prints the table', () => {
    const out = path.join(dir, 'out.pb.gz');
    const result = runCli(['diff', '-o', out, early, late]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(siteLines(result.stdout)[0][0], 'growCache');
    assert.ok(!fs.existsSync(`${out}.tmp`));
    const profile = decode(fs.readFileSync(out));
    const base = readProfile(early);
    const next = readProfile(late);
    assert.deepEqual(profile.sampleTypes, next.sampleTypes);
    assert.equal(profile.samples.length, base.samples.length + next.samples.length);
    assert.ok(profile.comments[0].includes(path.basename(early)) && profile.comments[0].includes(path.basename(late)), profile.comments[0]);
    const total = (p) => p.samples.reduce((sum, s) => sum + s.values[1], 0);
    assert.equal(total(profile), total(next) - total(base));
    const negated = profile.samples.filter((s) => s.labels.some((l) => l.key === 'pprof::base'));
    assert.equal(negated.length, base.samples.length);
  });

  it('go tool pprof -top reads the -o profile, and shows what -diff_base BASE NEW shows', (t) => {
    if (missingTool(t, 'go', ['version'])) return;
    const out = path.join(dir, 'out-for-pprof.pb.gz');
    assert.equal(runCli(['diff', '-o', out, early, late]).status, 0);
    const ours = pprof(['-top', out]);
    assert.equal(ours.status, 0, ours.stderr);
    assert.equal(ours.stderr, '');
    assert.match(ours.stdout, /^ *[\d.]+[kM]B +[\d.]+% .*\sgrowCache$/m, ours.stdout);
    const theirs = pprof(['-top', '-diff_base', early, late]);
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.equal(theirs.stderr, '');
    // Header lines (file, comments, duration) differ; the table is the same.
    const table = (stdout) => stdout.slice(stdout.indexOf('Showing nodes'));
    assert.equal(table(ours.stdout), table(theirs.stdout));
  });

  it('refuses a JS heap profile against a native one: exit 2, one line naming both kinds', () => {
    assert.ok(native, 'allocscope run writes native profiles beside the heap ones');
    const result = runCli(['diff', early, native]);
    assertOneLineError(result, 2, /^allocscope: BASE \S+\.heap\.pb\.gz is a JS heap profile \(inuse_objects, inuse_space\) and NEW \S+\.native\.pb\.gz a native memory profile \(alloc_objects, alloc_space, inuse_objects, inuse_space\)/);
  });

  it('a corrupt or missing file: exit 1, one line naming the file', () => {
    const corrupt = path.join(dir, 'corrupt.heap.pb.gz');
    fs.writeFileSync(corrupt, Buffer.from('not a profile at all'));
    assertOneLineError(runCli(['diff', early, corrupt]), 1, new RegExp(`^allocscope: ${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    const missing = path.join(dir, 'missing.heap.pb.gz');
    assertOneLineError(runCli(['diff', missing, late]), 1, /missing\.heap\.pb\.gz: no such file$/);
  });

  it('usage mistakes exit 2', () => {
    assert.equal(runCli(['diff', early]).status, 2);
    assert.equal(runCli(['diff', '--nodes', '0', early, late]).status, 2);
    assertOneLineError(runCli(['diff', '--sample-index', 'alloc_space', early, late]), 2, /sample index 'alloc_space' is not in this profile/);
    const help = runCli(['diff', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: allocscope diff BASE NEW/);
  });
});

describe('diffSites and diffProfile on built profiles', () => {
  /** A profile of [objects, bytes] (or in `order`) per site: { name: [objects, bytes] }. */
  function build(sites, order = ['inuse_objects', 'inuse_space']) {
    const types = order.map((type) => ({ type, unit: type.endsWith('_space') ? 'bytes' : 'count' }));
    const b = new ProfileBuilder(header({ sampleTypes: types }));
    const m = nodeMapping(b);
    const main = b.sourceLocation({ name: 'main', filename: '/app/main.js', startLine: 1, line: 2, column: 1 }, m);
    const alloc = b.sourceLocation({ name: 'Buffer.alloc', filename: 'node:buffer', startLine: 1, line: 1, column: 1 }, m);
    for (const [name, [objects, bytes]] of Object.entries(sites)) {
      const site = b.sourceLocation({ name, filename: '/app/lib.js', startLine: 10, line: 12, column: 3 }, m);
      const values = { inuse_objects: objects, inuse_space: bytes, alloc_objects: objects, alloc_space: bytes };
      b.addSample([alloc, site, main], order.map((type) => values[type]));
    }
    return b.build();
  }

  it('ranks growth first and sites gone from NEW last, matching values by type name', () => {
    const base = build({ grows: [1, 100], shrinks: [5, 500], gone: [2, 200] });
    const next = build({ grows: [4, 1000], shrinks: [1, 100], added: [1, 50] }, ['inuse_space', 'inuse_objects']);
    const rows = diffSites(base, next).map((r) => [r.site.name, r.site.line, r.value, r.delta, r.count, r.countDelta]);
    assert.deepEqual(rows, [
      ['grows', 12, 1000, 900, 4, 3],
      ['added', 12, 50, 50, 1, 1],
      ['gone', 12, 0, -200, 0, -2],
      ['shrinks', 12, 100, -400, 1, -4],
    ]);
  });

  it('diffProfile nets each function to NEW minus BASE, in NEW\'s sample types, and stays valid', () => {
    const base = build({ grows: [1, 100], gone: [2, 200] });
    const next = build({ grows: [4, 1000] }, ['inuse_space', 'inuse_objects']);
    const profile = decode(encode(diffProfile(base, next)));
    assert.deepEqual(profile.sampleTypes.map((t) => t.type), ['inuse_space', 'inuse_objects']);
    const net = {};
    for (const sample of profile.samples) {
      const name = sample.locations[1].lines[0].function.name;
      net[name] = (net[name] ?? 0) + sample.values[0];
    }
    assert.deepEqual(net, { grows: 900, gone: -200 });
    assert.equal(profile.functions.filter((f) => f.name === 'grows').length, 1, 'one function for both profiles');
    assert.equal(profile.mappings.length, 1, 'one mapping for both profiles');
  });

  it('diffProfile keeps native addresses, folded and inlined locations, and negates BASE exactly', () => {
    const rich = buildRichProfile();
    const profile = decode(encode(diffProfile(rich, rich)));
    const shape = (p) => p.locations.map((l) => [l.address, l.isFolded, l.mapping?.file, l.lines.map((x) => `${x.function.name}:${x.line}`)]).sort();
    assert.deepEqual(shape(profile), shape(rich));
    const half = profile.samples.length / 2;
    assert.equal(half, rich.samples.length);
    profile.samples.slice(half).forEach((sample, i) => {
      assert.deepEqual(sample.values, rich.samples[i].values.map((v) => -v));
      assert.deepEqual(sample.labels.at(-1), { key: 'pprof::base', str: 'true' });
    });
  });

  it('refuses profiles of different kinds with ERR_USAGE', () => {
    const heap = build({ a: [1, 1] });
    const native = build({ a: [1, 1, 1, 1] }, ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space']);
    assert.throws(() => diffSites(heap, native), (error) => error instanceof AllocscopeError && error.code === 'ERR_USAGE' &&
      /^BASE is a JS heap profile .* and NEW a native memory profile /.test(error.message));
    assert.throws(() => diffProfile(native, heap), /^AllocscopeError: BASE is a native memory profile/);
  });
});
