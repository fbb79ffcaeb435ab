/**
 * Takes the README's screenshot, docs/images/editor.png: two people typing in one document.
 *
 * Builds nothing: run `npm run build` first. Starts the built server on a free port with a
 * temporary data directory, opens the editor on one document in two browser profiles with two
 * names, types a paragraph in each, and captures the first page with both carets showing.
 * Needs Chromium (`CHROMIUM_PATH`, else Debian's /usr/bin/chromium).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'docs', 'images', 'editor.png');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const launchArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const viewport = { width: 1200, height: 700 };
const documentName = 'team/launch-notes';

const people = [
  {
    name: 'Ada Lovelace',
    color: '#db2777',
    text: [
      '# Launch checklist\n',
      'The launch moves to **Thursday**, so the release notes need to be final by Wednesday noon.\n',
      '- Summary of what changed\nUpgrade steps for self-hosted servers\nThe announcement for the blog',
    ].join(''),
    last: 'The announcement for the blog',
  },
  {
    name: 'Grace Hopper',
    color: '#2563eb',
    text: '\n\nI will check the upgrade steps on staging tomorrow and note anything that',
    last: 'note anything that',
  },
];

if (!existsSync(join(root, 'dist', 'server', 'main.js'))) {
  throw new Error('dist/server/main.js is missing: run `npm run build` first');
}
if (!existsSync(chromiumPath)) {
  throw new Error(`Chromium is not installed at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);
}

const dataDir = await mkdtemp(join(tmpdir(), 'collab-screenshot-'));
const server = await startServer(dataDir);
const browser = await chromium.launch({ executablePath: chromiumPath, args: launchArgs, headless: true });
try {
  const pages = [];
  for (const person of people) pages.push(await openEditor(browser, server.url, person));
  const [first, second] = pages;

  // The first person writes a heading, a paragraph and a list, and stops at the end of the list;
  // the second starts a paragraph below it and stops mid-sentence, so both carets are in view.
  await typeInto(first, people[0].text);
  await waitForText(second, people[0].last);
  await typeInto(second, people[1].text);
  await waitForText(first, people[1].last);
  await first.waitForFunction(() => document.querySelectorAll('.ProseMirror-yjs-cursor').length > 0);
  await first.waitForFunction(() => document.documentElement.dataset.status === 'saved', undefined, { timeout: 20_000 });
  await first.waitForTimeout(300);
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, await withOwnCaret(first));
  console.log(`wrote ${output} (${((await stat(output)).size / 1024).toFixed(1)} KiB)`);
} finally {
  await browser.close();
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/**
 * A screenshot of `page` that shows its own caret beside the other person's. Playwright hides the
 * caret by default, and shown it blinks: a frame differs from one with the caret hidden only while
 * the caret is drawn, so take pairs until one does.
 */
async function withOwnCaret(page) {
  for (let attempt = 0; attempt < 40; attempt++) {
    const shown = await page.screenshot({ caret: 'initial' });
    const hidden = await page.screenshot({ caret: 'hide' });
    if (!shown.equals(hidden)) return shown;
    await page.waitForTimeout(100);
  }
  throw new Error('the editor never drew its own caret');
}

/** Starts the built server on a free port; resolves with its URL once it logs that it listens. */
function startServer(dir) {
  const child = spawn(process.execPath, [join(root, 'dist', 'server', 'main.js'), '--port', '0', '--data-dir', dir], {
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof entry.msg === 'string' && entry.msg.startsWith('listening') && typeof entry.port === 'number') {
        resolve({
          url: `http://127.0.0.1:${entry.port}`,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

/** A fresh browser profile with `person`'s name remembered, on the editor page of the document. */
async function openEditor(browser, url, person) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  await context.addInitScript(([name, color]) => localStorage.setItem('collab-editor:user', JSON.stringify({ name, color })), [person.name, person.color]);
  const page = await context.newPage();
  await page.goto(`${url}/d/${documentName}`);
  await page.locator('.ProseMirror').waitFor();
  await page.waitForFunction(() => ['live', 'saved'].includes(document.documentElement.dataset.status ?? ''));
  return page;
}

/** Types `text` at the end of the document, as a person would. */
async function typeInto(page, text) {
  await page.locator('.ProseMirror').focus();
  await page.keyboard.press('Control+End');
  await page.waitForTimeout(50);
  await page.keyboard.type(text, { delay: 5 });
}

/** Waits until the editor shows `text` (without the carets' name labels). */
async function waitForText(page, text) {
  await page.waitForFunction(
    (wanted) => {
      const copy = document.querySelector('.ProseMirror')?.cloneNode(true);
      if (!copy) return false;
      for (const caret of copy.querySelectorAll('.ProseMirror-yjs-cursor')) caret.remove();
      return copy.textContent.includes(wanted);
    },
    text,
    { timeout: 20_000 },
  );
}
