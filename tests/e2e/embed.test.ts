/**
 * The editor embedded in a page of another origin (examples/embed, served by its own little
 * server): the script bundle's <collab-editor>, and the ES module's createEditor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';
import { blockTexts, describeInBrowser, launchBrowser, newContext, typeAtEnd, waitForText } from '../helpers/browser.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/embed/serve.mjs');

let browser: Browser;
let server: ServerProcess;
let example: { url: string; child: ChildProcess };

/** A port free right now, so the server can be told the example's origin before the example starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** Starts examples/embed/serve.mjs on `port`, pointing at `serverUrl`. */
async function startExample(serverUrl: string, port: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [EXAMPLE, '--server', serverUrl, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^embed example at (\S+)/.exec(line);
      if (match) done(match[1]!.replace(/\/$/, ''));
    });
    child.once('exit', (code) => fail(new Error(`the example server exited with ${code}`)));
  });
  return { url, child };
}

/** Waits until the host page's own status text (fed by the editor's status events) is one of `states`. */
async function waitForHostStatus(page: Page, states: readonly string[]): Promise<void> {
  await page.waitForFunction((wanted) => wanted.includes(document.getElementById('host-status')?.dataset['state'] ?? ''), states);
}

describeInBrowser('the editor embedded in another origin', () => {
  beforeAll(async () => {
    // The example is another origin, which the server must allow (--allowed-origins).
    const examplePort = await freePort();
    [browser, server] = await Promise.all([
      launchBrowser(),
      startServer({ args: ['--allowed-origins', `http://127.0.0.1:${examplePort}`] }),
    ]);
    example = await startExample(server.httpUrl, examplePort);
  });
  afterAll(async () => {
    example?.child.kill('SIGTERM');
    await browser?.close();
    await server?.stop();
    if (server) await removeDir(server.dataDir);
  });

  it('runs <collab-editor> from the script bundle, live with other clients', async () => {
    const name = `e2e/embed-script-${Date.now().toString(36)}`;
    expect(new URL(example.url).origin).not.toBe(new URL(server.httpUrl).origin);
    const client = connectClient(server.wsUrl, name);
    const context = await newContext(browser, { userName: 'Embedded Ada' });
    try {
      await client.synced;
      const page = await context.newPage();
      await page.goto(`${example.url}/?document=${encodeURIComponent(name)}`);
      await page.locator('collab-editor .ProseMirror').waitFor();
      await waitForHostStatus(page, ['live', 'saved']);

      await typeAtEnd(page, 'Typed in an embedded editor');
      const fragment = client.doc.getXmlFragment('prosemirror');
      await waitForDoc(client.doc, () => fragment.toString().includes('Typed in an embedded editor'), 'the embedded text in Node');
      await waitForHostStatus(page, ['saved']);

      client.doc.transact(() => {
        const paragraph = new Y.XmlElement('paragraph');
        paragraph.insert(0, [new Y.XmlText('Reply from Node')]);
        fragment.insert(fragment.length, [paragraph]);
      });
      await waitForText(page, 'Reply from Node');
      expect(await blockTexts(page)).toEqual(['Typed in an embedded editor', 'Reply from Node']);

      // Pointing the element at another document reopens it there.
      const other = `${name}-other`;
      await page.evaluate((next) => document.getElementById('editor')!.setAttribute('document', next), other);
      await page.locator(`collab-editor .ProseMirror[aria-label="Document ${other}"]`).waitFor();
      await waitForHostStatus(page, ['live', 'saved']);
      expect(await blockTexts(page)).toEqual(['']);
    } finally {
      await context.close();
      client.destroy();
    }
  });

  it('runs createEditor from the ES module, alongside the element', async () => {
    const name = `e2e/embed-module-${Date.now().toString(36)}`;
    const context = await newContext(browser);
    try {
      const [modulePage, elementPage] = await Promise.all([context.newPage(), context.newPage()]);
      await modulePage.goto(`${example.url}/module.html?document=${encodeURIComponent(name)}`);
      await elementPage.goto(`${example.url}/?document=${encodeURIComponent(name)}`);
      await Promise.all([waitForHostStatus(modulePage, ['live', 'saved']), waitForHostStatus(elementPage, ['live', 'saved'])]);

      await typeAtEnd(modulePage, 'From the module');
      await waitForText(elementPage, 'From the module');
      await typeAtEnd(elementPage, 'From the element');
      await waitForText(modulePage, 'From the element');
      // The module page set its user's name through the API; the other page lists it.
      await elementPage.locator('.ce-person-name', { hasText: 'Module embed' }).waitFor({ state: 'attached' });
    } finally {
      await context.close();
    }
  });
});
