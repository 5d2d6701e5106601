// `allocscope view` in headless Chromium: a directory's timeline and leak suspects (screenshot kept), a profile in Speedscope, escaping of untrusted names.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, ROOT, tempDir, runCli, startView, assertOneLineError } = require('../support/cli');
const { missingTool } = require('../support/tools');
const { launchChromium, CHROMIUM } = require('../support/speedscope');
const { encode } = require('../../dist/index.js');
const { ProfileBuilder } = require('../../dist/model/builder.js');
const { profileFileName } = require('../../dist/record/file-names.js');

const SERVICE = path.join(FIXTURES, 'leaky-service', 'service.js');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** hostileProfiles writes a series whose growing site is named with markup, as an untrusted profile could be. */
function hostileProfiles(dir, name) {
  for (let i = 1; i <= 5; i++) {
    const time = new Date(Date.UTC(2026, 10, 21, 12, 0, i));
    const builder = new ProfileBuilder({
      sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }], defaultSampleType: 'inuse_space',
      periodType: { type: 'space', unit: 'bytes' }, period: 524288, timeNanos: BigInt(time.getTime()) * 1_000_000n, durationNanos: 1e9, comments: [],
    });
    builder.addSample([builder.sourceLocation({ name, filename: '/app/<b>x</b>.js', startLine: 1, line: 2, column: 0 }, undefined)], [i * 10, i * 1024 * 1024]);
    fs.writeFileSync(path.join(dir, profileFileName({ time, pid: 4242, threadId: 0, sequence: i, kind: 'heap' })), encode(builder.build()));
  }
}

describe('allocscope view', () => {
  let dir;
  let browser;
  before(async () => {
    dir = tempDir();
    const run = runCli(['run', '--out', dir, '--every', '1', '--', process.execPath, '--no-turbo-inlining', SERVICE, '6'], { timeout: 90_000 });
    assert.equal(run.status, 0, run.stderr);
    if (fs.existsSync(CHROMIUM)) browser = await launchChromium();
  });
  after(() => browser?.close());

  it('shows a directory\'s memory timeline and leak suspects, each linked to its flame graph', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const view = await startView(dir);
    t.after(view.stop);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(view.url);
    assert.equal(await page.title(), `allocscope: ${dir}`);
    assert.deepEqual(await page.$$eval('section.panel h2', (hs) => hs.map((h) => h.textContent)), ['JS heap in use', 'Native memory in use', 'Active handles and requests']);
    assert.equal(await page.locator('svg.timeline polyline.series').count(), 3, 'one line per kind for the one process');
    const sites = await page.$$eval('table.suspects td.site', (cells) => cells.map((c) => c.textContent));
    assert.ok(sites.includes('Timeout'), sites.join(', '));
    assert.ok(sites.includes('queueWriteBehindTask'), sites.join(', '));
    assert.ok(!sites.includes('renderReport'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'view-overview.png'), fullPage: true });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'view-overview.png')).size > 10_000);
    // The suspect's link opens its newest profile in Speedscope, served by the same server.
    await page.locator('table.suspects td.site a', { hasText: 'queueWriteBehindTask' }).first().click();
    await page.waitForFunction(() => document.title.endsWith(' - speedscope'), null, { timeout: 20_000 });
    assert.match(await page.title(), /\.(heap|native)\.pb\.gz - speedscope$/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('opens a single profile in Speedscope', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const file = path.join(dir, fs.readdirSync(dir).filter((n) => n.endsWith('.native.pb.gz')).sort().at(-1));
    const view = await startView(file);
    t.after(view.stop);
    const page = await browser.newPage();
    const alerts = [];
    page.on('dialog', (dialog) => {
      alerts.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    await page.goto(view.url);
    await page.waitForFunction(() => document.title.endsWith(' - speedscope'), null, { timeout: 20_000 });
    assert.equal(await page.title(), `${path.basename(file)} - speedscope`);
    assert.deepEqual(alerts, []);
    await page.close();
  });

  it('escapes names from profiles: markup in a function or file name stays text', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const hostile = tempDir();
    const name = '<img src=x onerror="window.pwned=1">';
    hostileProfiles(hostile, name);
    const view = await startView(hostile);
    t.after(view.stop);
    const page = await browser.newPage();
    await page.goto(view.url);
    assert.deepEqual(await page.$$eval('table.suspects td.site', (cells) => cells.map((c) => c.textContent)), [name]);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.locator('b').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await page.close();
  });

  it('answers a missing target and a file that is not a profile with one line', () => {
    assertOneLineError(runCli(['view', path.join(tempDir(), 'nope')]), 1, /nope: no such file/);
    const junk = path.join(tempDir(), 'junk.pb.gz');
    fs.writeFileSync(junk, 'not a profile');
    assertOneLineError(runCli(['view', junk]), 1, /junk\.pb\.gz: /);
  });
});
