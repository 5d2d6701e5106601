// Fuzzes every profile reader (decode, top, diff, leaks, convert, view) with a few hundred seeded bad inputs, and checks the viewer never runs script from a profile.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir, runCli, runCliAsync, startView } = require('../support/cli');
const { badInputs, fuzzSeed, gzipBomb, hostileProfile, writeSparseFile, HOSTILE_STRINGS } = require('../support/fuzz-inputs');
const { buildRichProfile, header } = require('../support/profiles');
const { missingTool } = require('../support/tools');
const { launchChromium, CHROMIUM } = require('../support/speedscope');
const { AllocscopeError, decode, encode, validateProfile } = require('../../dist/index.js');
const { MAX_PROFILE_BYTES } = require('../../dist/format/gzip.js');
const { ProfileBuilder } = require('../../dist/model/builder.js');
const { toHeapProfile } = require('../../dist/format/heapprofile.js');
const { toSpeedscope } = require('../../dist/format/speedscope.js');
const { profileFileName } = require('../../dist/record/file-names.js');
const { diffProfile, diffSites } = require('../../dist/report/diff.js');
const { leakSuspects } = require('../../dist/report/leaks.js');
const { formatTopTable, sampleIndexOf, topTable } = require('../../dist/report/top.js');

const SEED = fuzzSeed();
const REPLAY = `replay: ALLOCSCOPE_FUZZ_SEED=${SEED} node --test ${path.relative(process.cwd(), __filename)}`;
const IN_PROCESS_CASES = 300;
const SPAWNED_PER_COMMAND = 5;
// A reader that takes longer than this on one input is taken to hang; the slowest case (the bomb) needs about 2 s.
const KILL_AFTER_MS = 60_000;

/** What each command does with a profile once read, run in process on every input decode accepts. */
const PROFILE_USES = {
  top: (p) => formatTopTable(topTable(p, sampleIndexOf(p, undefined), 'flat'), 20),
  diff: (p) => [diffSites(p, p), encode(diffProfile(p, p))],
  leaks: (p) => leakSuspects('heap', [0, 1, 2, 3, 4].map((i) => ({ timeMs: i * 60_000, profile: p })), { pid: 1, threadId: 0 }),
  speedscope: (p) => JSON.stringify(toSpeedscope(p, 'fuzz')),
  heapprofile: (p) => JSON.stringify(toHeapProfile(p)),
};

/** fileOfSeries names a profile as `allocscope run --every` does: pid 7's heap series, one file a minute. */
function fileOfSeries(dir, sequence, pid = 7) {
  return path.join(dir, profileFileName({ time: new Date(Date.UTC(2026, 0, 1, 0, sequence)), pid, threadId: 0, sequence, kind: 'heap' }));
}

/** deepProfile is a valid heap profile with one stack of `depth` distinct frames. */
function deepProfile(depth) {
  const builder = new ProfileBuilder(header());
  const frames = Array.from({ length: depth }, (_, i) => builder.sourceLocation({ name: `f${i}`, filename: '/app/deep.js', startLine: i + 1, line: i + 1, column: 1 }, undefined));
  builder.addSample(frames, [1, 1024]);
  return builder.build();
}

/** writeGoodSeries writes five valid heap profiles of pid 7 (sequences 1 to 5) and returns their paths. */
function writeGoodSeries(dir) {
  return [1, 2, 3, 4, 5].map((sequence) => {
    const file = fileOfSeries(dir, sequence);
    fs.writeFileSync(file, encode(buildRichProfile()));
    return file;
  });
}

/**
 * assertFailsInOneLine: a non-zero exit, no signal, and stderr exactly one `allocscope: ` line
 * that names `file` and says what is wrong, with no stack frames.
 */
function assertFailsInOneLine(result, file, what) {
  const context = `${what}\nstatus ${result.status} signal ${result.signal}\nstderr: ${result.stderr}\n${REPLAY}`;
  assert.equal(result.error, undefined, `did not finish within ${KILL_AFTER_MS} ms: ${context}`);
  assert.equal(result.signal, null, context);
  assert.ok(result.status === 1 || result.status === 2, context);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, context);
  assert.ok(lines[0].startsWith('allocscope: ') && lines[0].includes(file), context);
  assert.match(lines[0].replace(file, 'FILE'), /[a-z]+ [a-z]+/, `the line says what is wrong: ${context}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, context);
}

/** assertSkippedOnly: stderr is one line, `allocscope: skipped FILE: <what is wrong>`. */
function assertSkippedOnly(stderr, file, context) {
  assert.ok(stderr.startsWith(`allocscope: skipped ${file}: `), context);
  assert.equal(stderr.trimEnd().split('\n').length, 1, context);
}

describe(`profile readers under bad input (ALLOCSCOPE_FUZZ_SEED=${SEED})`, () => {
  let cases;
  let rejected;
  let accepted;
  before(() => {
    cases = badInputs(SEED, IN_PROCESS_CASES);
    rejected = [];
    accepted = [];
  });

  it(`decode returns a valid profile or throws AllocscopeError for each of ${IN_PROCESS_CASES} bad inputs`, () => {
    const failures = [];
    for (const input of cases) {
      try {
        const profile = decode(input.bytes);
        validateProfile(profile);
        accepted.push({ input, profile });
      } catch (error) {
        if (error instanceof AllocscopeError && !error.message.includes('\n')) rejected.push(input);
        else failures.push(`${input.name}: ${error?.stack ?? error}`);
      }
    }
    assert.deepEqual(failures, [], REPLAY);
    assert.ok(rejected.length > IN_PROCESS_CASES / 2, `most inputs are bad: ${rejected.length} of ${IN_PROCESS_CASES} rejected`);
    // allocscope writes the string table last and every string in it is used: no cut leaves a whole profile.
    const truncated = accepted.filter(({ input }) => input.kind.startsWith('truncated')).map(({ input }) => input.name);
    assert.deepEqual(truncated, [], `truncated profiles accepted; ${REPLAY}`);
  });

  it('what every command does with a profile decode accepted either works or throws AllocscopeError', () => {
    const failures = [];
    for (const { input, profile } of accepted) {
      for (const [use, run] of Object.entries(PROFILE_USES)) {
        try {
          run(profile);
        } catch (error) {
          if (!(error instanceof AllocscopeError)) failures.push(`${use} of ${input.name}: ${error?.stack ?? error}`);
        }
      }
    }
    assert.deepEqual(failures, [], REPLAY);
  });

  it('inputs at the limits: a gzip bomb and a file over the size limit are refused, a stack deeper than any profile records is handled', () => {
    const dir = tempDir();
    const bomb = gzipBomb(MAX_PROFILE_BYTES + 1);
    assert.throws(() => decode(bomb), { code: 'ERR_MALFORMED_PROFILE', message: /inflates to more than/ });
    const bombFile = fileOfSeries(dir, 6);
    fs.writeFileSync(bombFile, bomb);
    assertFailsInOneLine(runCli(['top', bombFile], { timeout: KILL_AFTER_MS }), bombFile, 'top on a gzip bomb');
    const sparse = fileOfSeries(dir, 7);
    writeSparseFile(sparse);
    for (const args of [['top', sparse], ['convert', sparse, '--to', 'speedscope', '-o', path.join(dir, 'out.json')], ['view', sparse]]) {
      assertFailsInOneLine(runCli(args, { timeout: KILL_AFTER_MS }), sparse, `${args[0]} on a sparse file of ${MAX_PROFILE_BYTES + 1} bytes`);
    }
    const deep = fileOfSeries(dir, 8);
    fs.writeFileSync(deep, encode(deepProfile(20_000)));
    const toHeapprofile = runCli(['convert', deep, '--to', 'heapprofile', '-o', path.join(dir, 'out.heapprofile')], { timeout: KILL_AFTER_MS });
    assertFailsInOneLine(toHeapprofile, deep, 'heapprofile of a deep stack');
    for (const args of [['top', deep], ['convert', deep, '--to', 'speedscope', '-o', path.join(dir, 'out.json')]]) {
      const result = runCli(args, { timeout: KILL_AFTER_MS });
      assert.equal(result.status, 0, `${args[0]} on a stack of 20,000 frames: ${result.stderr}`);
    }
  });

  it(`each command on ${SPAWNED_PER_COMMAND} rejected inputs: one line naming the file, non-zero exit`, async () => {
    const dir = tempDir();
    const good = writeGoodSeries(dir);
    const commands = {
      top: (bad) => ['top', bad],
      'diff, bad BASE': (bad) => ['diff', bad, good[0]],
      'diff, bad NEW': (bad) => ['diff', good[0], bad],
      'leaks FILES': (bad) => ['leaks', ...good, bad],
      'convert --to speedscope': (bad, out) => ['convert', bad, '--to', 'speedscope', '-o', out],
      'convert --to heapprofile': (bad, out) => ['convert', bad, '--to', 'heapprofile', '-o', out],
      'view FILE': (bad) => ['view', bad, '--port', '0'],
    };
    // Spread the commands over the rejected inputs, so that a run covers as many kinds as it can.
    const runs = Object.entries(commands).flatMap(([command, args], c) =>
      Array.from({ length: SPAWNED_PER_COMMAND }, (_, i) => {
        const input = rejected[(c * SPAWNED_PER_COMMAND + i) % rejected.length];
        const bad = fileOfSeries(dir, 6, 100 + c * SPAWNED_PER_COMMAND + i);
        fs.writeFileSync(bad, input.bytes);
        return { what: `${command} on ${input.name}`, bad, out: `${bad}.json`, args: args(bad, `${bad}.json`) };
      }));
    // Two at a time: this machine has two CPUs, and a spawn spends most of its time starting Node.
    const queue = [...runs];
    const runNext = async () => {
      for (let run = queue.shift(); run !== undefined; run = queue.shift()) run.result = await runCliAsync(run.args, { timeout: KILL_AFTER_MS });
    };
    await Promise.all([runNext(), runNext()]);
    for (const { what, bad, out, result } of runs) {
      assertFailsInOneLine(result, bad, what);
      assert.ok(!fs.existsSync(out) && !fs.existsSync(`${out}.tmp`), `${what} wrote nothing`);
    }
  });

  it('leaks DIR and view DIR skip unreadable profiles, naming each on stderr, and go on', { timeout: KILL_AFTER_MS }, async () => {
    const dir = tempDir();
    writeGoodSeries(dir);
    const bad = fileOfSeries(dir, 6);
    for (const input of rejected.slice(0, 3)) {
      fs.writeFileSync(bad, input.bytes);
      const leaks = runCli(['leaks', dir, '--json'], { timeout: KILL_AFTER_MS });
      const context = `leaks DIR with ${input.name}: stderr ${leaks.stderr}\n${REPLAY}`;
      assert.equal(leaks.status, 1, context);
      assert.ok(Array.isArray(JSON.parse(leaks.stdout)), context);
      assertSkippedOnly(leaks.stderr, bad, context);

      const view = await startView(dir);
      const { status, signal } = await view.stop();
      assertSkippedOnly(view.stderr(), bad, `view DIR with ${input.name}: stderr ${view.stderr()}\n${REPLAY}`);
      assert.deepEqual({ status, signal }, { status: 0, signal: null });
    }
  });
});

/** The overview page's template: its elements and the attributes each may carry; anything else came from a profile. */
const TEMPLATE = {
  html: ['lang'], head: [], meta: ['charset', 'http-equiv', 'content'], title: [], style: [], body: [], h1: [], h2: [],
  p: ['class'], section: ['class'], div: ['class'], span: ['style'], table: ['class'], thead: [], tbody: [], tr: [], th: [],
  td: ['class'], a: ['href'], svg: ['class', 'width', 'height', 'role', 'aria-label'], line: ['x1', 'y1', 'x2', 'y2', 'stroke'],
  text: ['x', 'y', 'font-size', 'text-anchor'], polyline: ['class', 'fill', 'stroke', 'stroke-width', 'points'],
};
/** The only values of the attributes that could run script or load something. */
const ATTRIBUTE_VALUES = {
  href: /^\/speedscope\/index\.html#profileURL=%2Fprofiles%2F[\w.-]+\.pb\.gz\.json&amp;title=[\w.-]+\.pb\.gz$/,
  style: /^color:#[0-9a-f]{6}$/,
  content: /^(default-src 'self'; style-src 'unsafe-inline'; script-src 'none')$/,
  'http-equiv': /^Content-Security-Policy$/,
};

/** templateViolations parses the page and lists every element, attribute or URL that the template does not have. */
function templateViolations(html) {
  const violations = [];
  // The style sheet is the template's own; taken out whole so that CSS cannot pass for markup.
  const page = html.replace(/<style>([^<]*)<\/style>/, '<style></style>');
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:="[^"<>]*")?)*)\s*\/?>/g;
  for (const [, , name, attributes] of page.matchAll(tag)) {
    const allowed = TEMPLATE[name.toLowerCase()];
    if (allowed === undefined) violations.push(`element <${name}>`);
    for (const [, attribute, value = ''] of attributes.matchAll(/\s+([\w-]+)(?:="([^"]*)")?/g)) {
      if (!allowed?.includes(attribute)) violations.push(`attribute ${attribute}="${value}" on <${name}>`);
      else if (ATTRIBUTE_VALUES[attribute] && !ATTRIBUTE_VALUES[attribute].test(value)) violations.push(`${attribute}="${value}" on <${name}>`);
    }
  }
  const text = page.replace(/^<!doctype html>/, '').replace(tag, '');
  if (/[<>]/.test(text)) violations.push(`markup outside the template's elements: ${text.match(/.{0,40}[<>].{0,40}/)[0]}`);
  return violations;
}

/** decodeEntities undoes escapeHtml, to read the page's text as a browser shows it. */
function decodeEntities(text) {
  return text.replace(/&(lt|gt|quot|#39|amp);/g, (_, name) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[name]);
}

describe(`the viewer never runs script from a profile (ALLOCSCOPE_FUZZ_SEED=${SEED})`, { timeout: KILL_AFTER_MS * 2 }, () => {
  let dir;
  let heapFiles;
  let hostileFile;
  let view;
  before(async () => {
    // The directory's name is shown too (page title, notes), so it carries markup of its own.
    dir = path.join(tempDir(), `profiles "><img src=x onerror=window.pwned=1> <svg onload=window.pwned=1> {{7*7}}`);
    fs.mkdirSync(dir);
    heapFiles = [1, 2, 3, 4, 5].map((sequence) => {
      const profile = encode(hostileProfile(SEED, sequence));
      fs.writeFileSync(fileOfSeries(dir, sequence, 9).replace('.heap.', '.native.'), profile);
      fs.writeFileSync(fileOfSeries(dir, sequence, 9), profile);
      return fileOfSeries(dir, sequence, 9);
    });
    fs.writeFileSync(fileOfSeries(dir, 6, 9), 'not a profile');
    hostileFile = path.join(dir, `"><img src=x onerror=window.pwned=1>.pb.gz`);
    fs.copyFileSync(heapFiles[0], hostileFile);
    view = await startView(dir);
  });
  after(() => view?.stop());

  it('the overview page holds only its template\'s elements, attributes and URLs; names are shown as text', async () => {
    const response = await fetch(view.url);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const html = await response.text();
    assert.deepEqual(templateViolations(html), [], REPLAY);
    for (const hostile of HOSTILE_STRINGS.filter((h) => /[<>"']/.test(h))) assert.ok(!html.includes(hostile), `unescaped: ${hostile}`);
    const text = decodeEntities(html.replace(/<[^>]*>/g, ''));
    const sites = HOSTILE_STRINGS.filter((h) => text.includes(h));
    assert.ok(sites.length >= HOSTILE_STRINGS.length / 2, `the suspects' names are shown, as text: ${sites.length} of ${HOSTILE_STRINGS.length}`);
    assert.ok(text.includes(`allocscope: ${dir}`), 'the directory is named, as text');
    assert.ok(text.includes(`skipped ${fileOfSeries(dir, 6, 9)}: `), 'the unreadable file is named, as text');
  });

  it('profiles are served as JSON, errors as plain text, both with nosniff', async () => {
    for (const [name, status, type] of [
      [path.basename(heapFiles[4]), 200, 'application/json'],
      [path.basename(fileOfSeries(dir, 6, 9)), 500, 'text/plain'],
      ['<script>.pb.gz', 404, 'text/plain'],
    ]) {
      const response = await fetch(new URL(`/profiles/${encodeURIComponent(name)}.json`, view.url));
      assert.equal(response.status, status, name);
      assert.equal(response.headers.get('content-type'), type, name);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', name);
      if (status === 200) assert.ok(JSON.stringify(await response.json()).includes(JSON.stringify(HOSTILE_STRINGS[0])));
    }
  });

  it('in Chromium, neither the overview page nor Speedscope on a hostile profile runs its script', { timeout: KILL_AFTER_MS }, async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const browser = await launchChromium();
    t.after(() => browser.close());
    const fileView = await startView(hostileFile);
    t.after(fileView.stop);
    const page = await browser.newPage();
    const ran = [];
    page.on('dialog', (dialog) => {
      ran.push(`dialog: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (error) => ran.push(`script error: ${error.message}`));
    await page.goto(view.url);
    assert.equal(await page.locator('img, iframe, script, svg[onload]').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await page.goto(fileView.url);
    await page.waitForFunction(() => document.title.endsWith(' - speedscope'), null, { timeout: 20_000 });
    await page.getByText('Sandwich').click();
    await page.getByText('Symbol Name').waitFor({ timeout: 10_000 });
    assert.ok((await page.evaluate(() => document.body.innerText)).includes(HOSTILE_STRINGS[0]), 'Speedscope shows the names as text');
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.deepEqual(ran, []);
  });
});
