// Opens profiles in Speedscope (the npm package's bundled viewer) in headless Debian Chromium, the way a person would.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const RELEASE = path.dirname(require.resolve('speedscope/dist/release/index.html'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialing out, and this machine refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** launchChromium starts headless Debian Chromium through playwright-core (close it when done). */
function launchChromium() {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** serve answers Speedscope's own files from its release folder and /profile/<i> with files[i]. */
function serve(files) {
  const server = http.createServer((request, response) => {
    const { pathname } = new URL(request.url, 'http://127.0.0.1');
    const match = /^\/profile\/(\d+)$/.exec(pathname);
    const file = match ? files[Number(match[1])] : path.join(RELEASE, path.normalize(pathname === '/' ? '/index.html' : pathname));
    if (file === undefined || (!match && !file.startsWith(RELEASE))) {
      response.writeHead(404).end();
      return;
    }
    fs.readFile(file, (error, data) => {
      if (error) response.writeHead(404).end();
      else response.writeHead(200, { 'access-control-allow-origin': '*' }).end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * openInSpeedscope loads each file in a fresh Speedscope page and reports what a person would see:
 * { file, loaded, title, alerts, errors, importer, sandwich } where `loaded` means Speedscope
 * named the page after the profile with no alert and no script error, `importer` is the format
 * Speedscope said it used, and `sandwich` the text of its Sandwich table (function names with totals).
 */
async function openInSpeedscope(files) {
  const server = await serve(files);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium();
  const results = [];
  try {
    for (const [index, file] of files.entries()) {
      // Tall: the Sandwich table renders only the rows in view, and mixed stacks have many.
      const page = await browser.newPage({ viewport: { width: 1600, height: 8000 } });
      const result = { file, loaded: false, title: '', alerts: [], errors: [], importer: '', sandwich: '' };
      page.on('dialog', (dialog) => {
        result.alerts.push(dialog.message());
        dialog.dismiss().catch(() => {});
      });
      page.on('pageerror', (error) => result.errors.push(error.message));
      page.on('console', (message) => {
        if (/^Importing as /.test(message.text())) result.importer = message.text();
      });
      const title = `profile-${index}`;
      await page.goto(`${origin}/index.html#profileURL=${encodeURIComponent(`${origin}/profile/${index}`)}&title=${title}`);
      // Speedscope titles the page after the profile once it has imported it; an alert means it gave up.
      await page
        .waitForFunction((expected) => document.title === `${expected} - speedscope`, title, { timeout: 20_000 })
        .catch(() => {});
      result.title = await page.title();
      result.loaded = result.title === `${title} - speedscope` && result.alerts.length === 0 && result.errors.length === 0;
      if (result.loaded) {
        await page.getByText('Sandwich').click();
        await page.getByText('Symbol Name').waitFor({ timeout: 10_000 });
        result.sandwich = await page.evaluate(() => document.body.innerText);
      }
      await page.close();
      results.push(result);
    }
  } finally {
    await browser.close();
    server.close();
  }
  return results;
}

module.exports = { openInSpeedscope, launchChromium, CHROMIUM };
