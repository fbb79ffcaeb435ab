/**
 * The editor across server restarts and outages: what it called saved survives `kill -9`, a reload
 * after a restart shows everything, and edits made while the server is down reach everyone once
 * it is back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  blockTexts,
  cacheWritten,
  describeInBrowser,
  launchBrowser,
  newContext,
  openEditor,
  typeAtEnd,
  waitForStatus,
  waitForText,
} from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient } from '../helpers/clients.js';
import { removeDir, startServer, tempDataDir, type ServerProcess } from '../helpers/server-process.js';

let browser: Browser;
const cleanup = cleanupAfterEach();

async function serverOn(dataDir: string, port?: number): Promise<ServerProcess> {
  const server = await startServer({ dataDir, port });
  cleanup.push(() => server.kill());
  return server;
}

async function freshDataDir(): Promise<string> {
  const dir = await tempDataDir();
  cleanup.push(() => removeDir(dir));
  return dir;
}

/** The fragment as a newcomer gets it from `server`. */
async function storedFragment(server: ServerProcess, name: string): Promise<string> {
  const reader = connectClient(server.wsUrl, name);
  try {
    await reader.synced;
    return reader.doc.getXmlFragment('prosemirror').toString();
  } finally {
    reader.destroy();
  }
}

describeInBrowser('the editor across restarts and outages', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('keeps what it called saved when the server is killed with SIGKILL', async () => {
    const dataDir = await freshDataDir();
    const first = await serverOn(dataDir);
    const context = await newContext(browser);
    cleanup.push(() => context.close());
    const page = await openEditor(context, first.httpUrl, 'e2e/kill-9');
    await typeAtEnd(page, 'Saved means stored');
    await waitForStatus(page, ['saved']);
    await first.kill();

    const second = await serverOn(dataDir);
    expect(await storedFragment(second, 'e2e/kill-9')).toContain('Saved means stored');
  });

  it('shows everything after a server restart, on reload and in a new browser', async () => {
    const dataDir = await freshDataDir();
    const first = await serverOn(dataDir);
    const context = await newContext(browser);
    cleanup.push(() => context.close());
    const page = await openEditor(context, first.httpUrl, 'e2e/restart');
    await page.locator('.ProseMirror').focus();
    await page.keyboard.type('# Restart notes\nThis line is **important**.\n- kept\n');
    await waitForStatus(page, ['saved']);
    expect(await first.stop()).toBe(0);
    await waitForStatus(page, ['offline']);

    const second = await serverOn(dataDir, first.port);
    await page.reload();
    await page.locator('.ProseMirror h1', { hasText: 'Restart notes' }).waitFor();
    await waitForStatus(page, ['live', 'saved']);
    await page.locator('.ProseMirror strong', { hasText: 'important' }).waitFor();

    // A browser with nothing cached gets it all from the server.
    const other = await newContext(browser);
    cleanup.push(() => other.close());
    const fresh = await openEditor(other, second.httpUrl, 'e2e/restart');
    await fresh.locator('.ProseMirror h1', { hasText: 'Restart notes' }).waitFor();
    await fresh.locator('.ProseMirror strong', { hasText: 'important' }).waitFor();
    await fresh.locator('.ProseMirror ul > li', { hasText: 'kept' }).waitFor();
  });

  it('merges edits made while the server is down once it is back', async () => {
    const dataDir = await freshDataDir();
    const first = await serverOn(dataDir);
    const [adaContext, bobContext] = await Promise.all([newContext(browser, { userName: 'Ada' }), newContext(browser, { userName: 'Bob' })]);
    cleanup.push(
      () => adaContext.close(),
      () => bobContext.close(),
    );
    const [ada, bob] = await Promise.all([openEditor(adaContext, first.httpUrl, 'e2e/outage'), openEditor(bobContext, first.httpUrl, 'e2e/outage')]);
    await typeAtEnd(ada, 'Before the outage');
    await waitForText(bob, 'Before the outage');

    expect(await first.stop()).toBe(0);
    await Promise.all([waitForStatus(ada, ['offline']), waitForStatus(bob, ['offline'])]);
    await typeAtEnd(ada, 'Ada wrote offline');
    await typeAtEnd(bob, 'Bob wrote offline');
    // Honest about it: offline, with edits waiting.
    await waitForStatus(ada, ['offline']);
    expect(await ada.locator('.ce-status').textContent()).toContain('edits waiting');
    expect(await blockTexts(ada)).not.toContain('Bob wrote offline');

    const second = await serverOn(dataDir, first.port);
    await Promise.all([waitForText(ada, 'Bob wrote offline'), waitForText(bob, 'Ada wrote offline')]);
    await Promise.all([waitForStatus(ada, ['saved']), waitForStatus(bob, ['saved'])]);
    const stored = await storedFragment(second, 'e2e/outage');
    for (const line of ['Before the outage', 'Ada wrote offline', 'Bob wrote offline']) expect(stored).toContain(line);
    expect((await blockTexts(ada)).sort()).toEqual((await blockTexts(bob)).sort());
  });

  it("opens from the browser's cache when the server cannot be reached", async () => {
    const dataDir = await freshDataDir();
    const server = await serverOn(dataDir);
    const context = await newContext(browser);
    cleanup.push(() => context.close());
    const first = await openEditor(context, server.httpUrl, 'e2e/cached');
    await typeAtEnd(first, 'Kept in this browser');
    await waitForStatus(first, ['saved']);
    await cacheWritten(first);
    await first.close();

    // The page loads, but every WebSocket is refused: the content comes from IndexedDB.
    await context.routeWebSocket(/\/ws\//, (socket) => socket.close());
    const page = await context.newPage();
    await page.goto(`${server.httpUrl}/d/e2e/cached`);
    await waitForText(page, 'Kept in this browser');
    await waitForStatus(page, ['offline']);
    // Plain "Offline": the browser remembers that the server stored all of it.
    await expect.poll(() => page.locator('.ce-status').textContent()).toBe('Offline');
  });
});
