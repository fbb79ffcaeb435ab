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
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';
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

/** The page's uncaught errors, from now on. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/**
 * Resolves once the page has run the tasks queued so far: the editor's plugins defer some work
 * to zero-delay timers, which run before these (timers of equal delay run in order).
 */
async function settle(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((done) => setTimeout(() => setTimeout(done, 0), 0)));
}

/** Waits until `client` sees `count` people (itself included) in the document's awareness. */
async function waitForPeople(client: YClient, count: number): Promise<void> {
  const { awareness } = client.provider;
  await new Promise<void>((done) => {
    const check = () => {
      if (awareness.getStates().size !== count) return;
      awareness.off('change', check);
      done();
    };
    awareness.on('change', check);
    check();
  });
}

/** Waits until the element `#id` has an editor other than `previous` (the page's `window[previous]`), live. */
async function waitForElementLive(page: Page, id: string, previous?: string): Promise<void> {
  await page.waitForFunction(
    ([elementId, before]) => {
      const element = document.getElementById(elementId) as (HTMLElement & { editor: unknown; status: { state: string } | null }) | null;
      if (element === null || (before !== undefined && element.editor === (window as unknown as Record<string, unknown>)[before])) return false;
      return ['live', 'saved'].includes(element.status?.state ?? '');
    },
    [id, previous] as const,
  );
}

describeInBrowser('the editor embedded in another origin', () => {
  beforeAll(async () => {
    // The example is another origin, which the server must allow (--allowed-origins).
    const examplePort = await freePort();
    [browser, server] = await Promise.all([launchBrowser(), startServer({ args: ['--allowed-origins', `http://127.0.0.1:${examplePort}`] })]);
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

  it("says that the server refuses the page's origin, rather than that it is offline", async () => {
    // The same example from an origin the server does not allow: localhost, not 127.0.0.1. A
    // browser hides the answer to a refused upgrade, so the editor asks the server over HTTP.
    const name = `e2e/embed-origin-${Date.now().toString(36)}`;
    const context = await newContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${example.url.replace('127.0.0.1', 'localhost')}/?document=${encodeURIComponent(name)}`);
      await page.locator('collab-editor .ProseMirror').waitFor();
      await waitForHostStatus(page, ['error']);
      const label = await page.locator('collab-editor .ce-status').textContent();
      expect(label).toContain('the server refused the connection: pages from "http://localhost:');
      expect(label).toContain('--allowed-origins');
    } finally {
      await context.close();
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

  it('moves a focused <collab-editor> to another parent, and removes one (or its parent), without an error', async () => {
    const name = `e2e/embed-move-${Date.now().toString(36)}`;
    const client = connectClient(server.wsUrl, name);
    const context = await newContext(browser, { userName: 'Moving Ada' });
    try {
      await client.synced;
      const fragment = client.doc.getXmlFragment('prosemirror');
      const page = await context.newPage();
      const errors = pageErrors(page);
      await page.goto(`${example.url}/?document=${encodeURIComponent(name)}`);
      await waitForElementLive(page, 'editor');
      await typeAtEnd(page, 'Before the move');
      await waitForDoc(client.doc, () => fragment.toString().includes('Before the move'), 'the text typed before the move');

      // Moved while it has the focus: it reopens where it lands, and typing goes on there.
      await page.locator('collab-editor .ProseMirror').focus();
      await page.evaluate(() => {
        const element = document.getElementById('editor') as HTMLElement & { editor: unknown };
        (window as unknown as { before: unknown }).before = element.editor;
        document.body.append(element);
      });
      await waitForElementLive(page, 'editor', 'before');
      await waitForText(page, 'Before the move');
      await typeAtEnd(page, 'After the move');
      await waitForDoc(client.doc, () => fragment.toString().includes('After the move'), 'the text typed after the move');

      // Removed right after typing, with the focus in it: the person leaves the document.
      await waitForPeople(client, 2);
      await page.evaluate(() => document.getElementById('editor')!.remove());
      await waitForPeople(client, 1);
      await settle(page);

      // Its parent removed while it has the focus.
      await page.evaluate(
        ([serverUrl, documentName]) => {
          const box = document.createElement('div');
          box.id = 'box';
          box.innerHTML = '<collab-editor id="boxed"></collab-editor>';
          box.firstElementChild!.setAttribute('url', serverUrl);
          box.firstElementChild!.setAttribute('document', documentName);
          document.body.append(box);
        },
        [server.httpUrl, name] as const,
      );
      await waitForElementLive(page, 'boxed');
      await waitForPeople(client, 2);
      await page.locator('#boxed .ProseMirror').focus();
      await page.evaluate(() => document.getElementById('box')!.remove());
      await waitForPeople(client, 1);
      await settle(page);

      expect(errors).toEqual([]);
    } finally {
      await context.close();
      client.destroy();
    }
  });

  it('explains an invalid document name or server url in the element, like a missing one', async () => {
    const name = `e2e/embed-invalid-${Date.now().toString(36)}`;
    const context = await newContext(browser);
    try {
      const page = await context.newPage();
      const errors = pageErrors(page);
      await page.goto(`${example.url}/?document=${encodeURIComponent(name)}`);
      await waitForElementLive(page, 'editor');
      await page.evaluate(() => {
        for (const [id, attributes] of [
          ['bad-name', { document: 'has space' }],
          ['bad-url', { document: 'fine', url: 'not a url' }],
          ['no-name', {}],
        ] as const) {
          const element = document.createElement('collab-editor');
          element.id = id;
          for (const [attribute, value] of Object.entries(attributes)) element.setAttribute(attribute, value);
          document.body.append(element);
        }
      });
      await settle(page);
      expect(errors).toEqual([]);
      const text = (id: string) => page.locator(`#${id}`).textContent();
      expect(await text('bad-name')).toMatch(/^collab-editor: invalid document name "has space"/);
      expect(await text('bad-url')).toMatch(/^collab-editor: server url "not a url" is not a URL/);
      expect(await text('no-name')).toBe('collab-editor: the "document" attribute is missing.');

      // Corrected, it opens the editor in place of the explanation.
      await page.evaluate((documentName) => document.getElementById('bad-name')!.setAttribute('document', documentName), name);
      await waitForElementLive(page, 'bad-name');
      expect(await page.locator('#bad-name .ProseMirror').count()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
