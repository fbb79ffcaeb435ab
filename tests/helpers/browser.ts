/**
 * Real Chromium for the end-to-end tests: Debian's `chromium` driven by playwright-core.
 *
 * Without the binary, browser suites skip with a printed reason on a developer's machine and fail
 * under `CI=true`, so a CI run never passes by testing nothing.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { describeNeeding } from './binaries.js';
import { removeDir, startServer, type ServerProcess, type StartOptions } from './server-process.js';

/** The browser binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Why the browser tests cannot run here, or `null` if they can. */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  return `Chromium is not installed at ${CHROMIUM_PATH} (install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH)`;
}

/**
 * `describe` for tests that need Chromium. Without it: under `CI=true` the suite holds one failing
 * test saying why; elsewhere the suite is skipped and the reason printed.
 */
export function describeInBrowser(title: string, body: () => void): void {
  describeNeeding(browserUnavailable(), 'e2e', 'runs in Chromium', title, body);
}

/** Launches headless Chromium; close it with `browser.close()`. */
/**
 * A browser and a server for the suite it is called in: both started before its tests, stopped
 * (and the server's data removed) after them. Read them through the returned object's getters.
 */
export function browserAndServerForSuite(options: StartOptions = {}): { readonly browser: Browser; readonly server: ServerProcess } {
  let browser: Browser | undefined;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    [browser, server] = await Promise.all([launchBrowser(), startServer(options)]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) await removeDir(server.dataDir);
  });
  return {
    get browser() {
      if (!browser) throw new Error('the browser is not started yet: use it inside a test');
      return browser;
    },
    get server() {
      if (!server) throw new Error('the server is not started yet: use it inside a test');
      return server;
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS, headless: true });
}

/**
 * A fresh context (its own storage, IndexedDB and cookies: a different browser profile, in effect)
 * that forwards page errors to the test output. `userName` presets the remembered editor name.
 */
export async function newContext(browser: Browser, options: BrowserContextOptions & { userName?: string; userColor?: string } = {}): Promise<BrowserContext> {
  const { userName, userColor, ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, ...contextOptions });
  if (userName !== undefined) {
    // Only where nothing is remembered yet, so a rename in the page survives a reload.
    await context.addInitScript(
      ([name, color]) => {
        try {
          if (localStorage.getItem('collab-editor:user') === null) localStorage.setItem('collab-editor:user', JSON.stringify({ name, color }));
        } catch {
          // about:blank and other opaque origins have no storage
        }
      },
      [userName, userColor ?? '#2563eb'] as const,
    );
  }
  context.on('weberror', (error) => console.error(`[browser] ${error.error().message}`));
  return context;
}

/** Opens the editor page for `name` and waits until it is connected and in sync. */
export async function openEditor(context: BrowserContext, httpUrl: string, name: string, query = ''): Promise<Page> {
  const page = await context.newPage();
  const path = name.split('/').map(encodeURIComponent).join('/');
  const response = await page.goto(`${httpUrl}/d/${path}${query}`);
  if (response?.status() !== 200) {
    throw new Error(
      `GET /d/${path} answered ${response?.status() ?? 'nothing'}: are the editor routes mounted (editorRoutes in server/app.ts) and the editor built (npm run build)?`,
    );
  }
  await page.locator('.ProseMirror').waitFor();
  await waitForStatus(page, ['live', 'saved']);
  return page;
}

/**
 * Resolves once the page's IndexedDB writes are committed: closing a page aborts transactions it
 * has not committed yet. A read-write transaction over the cache's stores starts only after every
 * earlier one on them has finished.
 */
export async function cacheWritten(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const caches = (await indexedDB.databases()).filter((info) => info.name?.startsWith('collab-editor:'));
    for (const { name } of caches) {
      await new Promise<void>((resolve, reject) => {
        const open = indexedDB.open(name!);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const transaction = db.transaction([...db.objectStoreNames], 'readwrite');
          transaction.oncomplete = () => {
            db.close();
            resolve();
          };
          transaction.onerror = () => reject(transaction.error);
        };
      });
    }
  });
}

/** The names of the editor's IndexedDB caches (`collab-editor:…`) in the page's browser context. */
export async function cacheNames(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await indexedDB.databases()).map((info) => info.name ?? '').filter((name) => name.startsWith('collab-editor:')));
}

/** The editor page's status (`connecting`, `live`, `saving`, `saved`, `offline`, `error`). */
export async function statusOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.documentElement.dataset['status']);
}

/** Waits until the page's status is one of `states`. */
export async function waitForStatus(page: Page, states: readonly string[], timeout = 20_000): Promise<void> {
  await page.waitForFunction((wanted) => wanted.includes(document.documentElement.dataset['status'] ?? ''), states, { timeout });
}

/**
 * The text of the editor's blocks matching `selector` (default: every paragraph), without the
 * name labels of other people's carets, which sit inside the text.
 */
export async function blockTexts(page: Page, selector = 'p'): Promise<string[]> {
  return page.evaluate((blocks) => {
    const root = document.querySelector('.ProseMirror');
    if (root === null) return [];
    const copy = root.cloneNode(true) as HTMLElement;
    for (const caret of copy.querySelectorAll('.ProseMirror-yjs-cursor')) caret.remove();
    return [...copy.querySelectorAll(blocks)].map((block) => block.textContent ?? '');
  }, selector);
}

/** Waits until the editor's text (without caret labels) contains `text`. */
export async function waitForText(page: Page, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const root = document.querySelector('.ProseMirror');
      if (root === null) return false;
      const copy = root.cloneNode(true) as HTMLElement;
      for (const caret of copy.querySelectorAll('.ProseMirror-yjs-cursor')) caret.remove();
      return copy.textContent?.includes(wanted) === true;
    },
    text,
    { timeout },
  );
}

/** Waits until the editor's text (without caret labels) no longer contains `text`. */
export async function waitForNoText(page: Page, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (gone) => {
      const root = document.querySelector('.ProseMirror');
      if (root === null) return false;
      const copy = root.cloneNode(true) as HTMLElement;
      for (const caret of copy.querySelectorAll('.ProseMirror-yjs-cursor')) caret.remove();
      return copy.textContent?.includes(gone) === false;
    },
    text,
    { timeout },
  );
}

/**
 * Types `text` at the end of the document: in a new paragraph if `newParagraph` and the document
 * is not empty, else at the end of the last block.
 */
export async function typeAtEnd(page: Page, text: string, newParagraph = true): Promise<void> {
  const editor = page.locator('.ProseMirror');
  await editor.focus();
  await page.keyboard.press('Control+End');
  await waitForCaretAtEnd(page);
  if (newParagraph && ((await editor.textContent()) ?? '') !== '') await page.keyboard.press('Enter');
  await page.keyboard.type(text);
}

/** The little of a ProseMirror view the helpers read in the page. */
interface PageView {
  state: { doc: PageNode; selection: { head: number } };
}
interface PageNode {
  isTextblock: boolean;
  lastChild: PageNode | null;
  content: { size: number };
}

/**
 * Waits until ProseMirror's own selection is at the end of the document. The browser moves its
 * selection at once on a key like Ctrl+End but tells the editor in a later task (selectionchange);
 * a key pressed in between would act where the caret was.
 */
export async function waitForCaretAtEnd(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    // The editor page's, the <collab-editor> element's, or the module example's editor.
    const hosts = [
      (window as unknown as { collabEditor?: { view: PageView } }).collabEditor,
      (document.querySelector('collab-editor') as unknown as { editor?: { view: PageView } } | null)?.editor,
      (window as unknown as { editor?: { view: PageView } }).editor,
    ];
    const view = hosts.find((host) => host !== undefined && host !== null)?.view;
    if (view === undefined) throw new Error('no editor found on the page to check the caret of');
    let node: PageNode = view.state.doc;
    let depth = 0;
    while (!node.isTextblock && node.lastChild !== null) {
      node = node.lastChild;
      depth++;
    }
    return view.state.selection.head === view.state.doc.content.size - depth;
  });
}
