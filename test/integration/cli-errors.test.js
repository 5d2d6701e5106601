// The CLI's contract for people: --help everywhere, and one clear line (never a stack trace) for every mistake.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { tempDir, runCli, assertOneLineError } = require('../support/cli');
const { heap, encode } = require('../../dist/index.js');

function assertUsageError(result, pattern) {
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, pattern);
  assert.match(result.stderr, /Run 'allocscope( \w+)? --help'/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

describe('allocscope CLI', () => {
  let dir;
  let good;
  before(() => {
    dir = tempDir();
    heap.start({ intervalBytes: 16 * 1024 });
    const kept = Array.from({ length: 2000 }, (_, i) => new Array(100).fill(i));
    good = path.join(dir, 'good.heap.pb.gz');
    fs.writeFileSync(good, encode(heap.profile()));
    heap.stop();
    void kept;
  });

  it('--help works for the program and every command', () => {
    for (const args of [['--help'], ['help'], ['run', '--help'], ['top', '--help'], ['help', 'top']]) {
      const result = runCli(args);
      assert.equal(result.status, 0, args.join(' '));
      assert.match(result.stdout, /^Usage: allocscope/);
    }
    const bare = runCli([]);
    assert.equal(bare.status, 2);
    assert.match(bare.stdout, /Commands:\n {2}run .*\n {2}top /);
  });

  it('--version prints the package version', () => {
    assert.equal(runCli(['--version']).stdout, `${require('../../package.json').version}\n`);
  });

  it('top prints a pprof-style table for a good profile', () => {
    const result = runCli(['top', '--nodes', '3', good]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Type: inuse_space\nShowing nodes accounting for /);
    assert.match(result.stdout, /^ +flat +flat% +sum% +cum +cum%$/m);
    assert.equal(result.stdout.trimEnd().split('\n').length, 3 + 1 + 3);
  });

  it('top: missing file, directory, empty, text, corrupt gzip and a truncated profile each give one line naming the file', () => {
    const empty = path.join(dir, 'empty.pb.gz');
    const text = path.join(dir, 'notes.txt');
    const badGzip = path.join(dir, 'bad.pb.gz');
    const truncated = path.join(dir, 'truncated.pb.gz');
    const gzippedJunk = path.join(dir, 'junk.pb.gz');
    fs.writeFileSync(empty, '');
    fs.writeFileSync(text, 'this is not a profile\n');
    fs.writeFileSync(badGzip, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
    fs.writeFileSync(truncated, zlib.gzipSync(zlib.gunzipSync(fs.readFileSync(good)).subarray(0, 200)));
    fs.writeFileSync(gzippedJunk, zlib.gzipSync(Buffer.from('{"not": "protobuf"}')));
    const cases = [
      [path.join(dir, 'missing.pb.gz'), /: no such file$/],
      [dir, /: is a directory, not a file$/],
      [empty, /: malformed profile: empty input$/],
      [text, /: malformed profile: not a pprof profile/],
      [badGzip, /: corrupt gzip data: /],
      [truncated, /: malformed profile: /],
      [gzippedJunk, /: malformed profile: /],
    ];
    for (const [file, pattern] of cases) {
      const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assertOneLineError(runCli(['top', file]), 1, new RegExp(`^allocscope: ${escaped}${pattern.source}`));
    }
  });

  it('top: bad options are usage errors that name the fix', () => {
    assertUsageError(runCli(['top', good, '--nodse', '3']), /unknown option '--nodse' \(did you mean '--nodes'\?\)/);
    assertUsageError(runCli(['top', good, '--nodes', '0']), /--nodes must be a whole number from 1/);
    assertUsageError(runCli(['top']), /expected one profile file, got 0/);
    assertUsageError(runCli(['top', good, '--nodes']), /option '--nodes' needs a value/);
    const wrongType = runCli(['top', '--sample-index', 'alloc_space', good]);
    assert.equal(wrongType.status, 2);
    assert.match(wrongType.stderr, /^allocscope: sample index 'alloc_space' is not in this profile; it has inuse_objects, inuse_space$/m);
  });

  it('run: bad options are usage errors, and nothing is started', () => {
    assertUsageError(runCli(['run']), /missing the command to run/);
    assertUsageError(runCli(['run', '--every', 'often', '--', 'node', '-e', '']), /--every must be a number of seconds above 0/);
    assertUsageError(runCli(['run', '--every', '0', '--', 'node', '-e', '']), /--every must be a number of seconds above 0/);
    assertUsageError(runCli(['run', '--interval', '-5', '--', 'node', '-e', '']), /option '--interval' needs a value; to pass a value that starts with '-', write --interval=VALUE/);
    assertUsageError(runCli(['run', '--interval=-5', '--', 'node', '-e', '']), /--interval must be a size in bytes/);
    assertUsageError(runCli(['run', '--help=yes']), /option '--help' takes no value/);
    assertUsageError(runCli(['run', '--interval', '4g', '--', 'node', '-e', '']), /--interval must be at most/);
    assertUsageError(runCli(['run', '--depth', '5000', '--', 'node', '-e', '']), /--depth must be a whole number from 1 to 1024/);
    assertUsageError(runCli(['run', '--native-max-rate', 'fast', '--', 'node', '-e', '']), /--native-max-rate must be a whole number from 0 to 1000000, got 'fast'/);
    assertUsageError(runCli(['run', '--outt', 'x', '--', 'node', '-e', '']), /unknown option '--outt' \(did you mean '--out'\?\)/);
  });

  it('an unknown command suggests the closest one', () => {
    assertUsageError(runCli(['tpo']), /unknown command 'tpo' \(did you mean 'top'\?\)/);
  });
});
