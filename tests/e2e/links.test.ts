/**
 * Links are the one place where the shared document puts an address into the page. Whatever
 * another client writes or a user pastes, no rendered link may have a script target, including
 * the ones whose scheme only the browser's URL parser sees (`java\tscript:`, `\x01javascript:`).
 */
import { expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Page } from 'playwright-core';
import { browserAndServerForSuite, describeInBrowser, newContext, openEditor, waitForText } from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';

const cleanup = cleanupAfterEach();
let counter = 0;
const docName = (label: string) => `e2e/${label}-${Date.now().toString(36)}-${counter++}`;

/** Addresses that are scripts once the URL parser has dropped tabs, newlines and leading controls. */
const HIDDEN_SCRIPTS = [
  'java\tscript:window.PWNED=1',
  'java\nscript:window.PWNED=2',
  'java\rscript:window.PWNED=3',
  '\x01javascript:window.PWNED=4',
  ' \x00javascript:window.PWNED=5',
];

/** Appends a paragraph per link to the fragment: its text linked to `href`, as any Yjs client may write it. */
function writeLinks(doc: Y.Doc, links: readonly (readonly [text: string, href: string])[]): void {
  const fragment = doc.getXmlFragment('prosemirror');
  doc.transact(() => {
    for (const [label, href] of links) {
      const text = new Y.XmlText();
      text.insert(0, label, { link: { href, title: null } });
      const paragraph = new Y.XmlElement('paragraph');
      paragraph.insert(0, [text]);
      fragment.insert(fragment.length, [paragraph]);
    }
  });
}

/** Every link's `href` in the fragment, as other Yjs clients read it. */
function storedHrefs(fragment: Y.XmlFragment): string[] {
  const hrefs: string[] = [];
  const visit = (node: Y.XmlElement | Y.XmlText | Y.XmlHook) => {
    if (node instanceof Y.XmlText) {
      for (const op of node.toDelta() as Array<{ attributes?: { link?: { href?: unknown } } }>) {
        if (op.attributes?.link !== undefined) hrefs.push(String(op.attributes.link.href));
      }
    } else if (node instanceof Y.XmlElement) {
      for (const child of node.toArray()) visit(child);
    }
  };
  for (const child of fragment.toArray()) visit(child);
  return hrefs;
}

describeInBrowser('links in the editor', () => {
  const suite = browserAndServerForSuite();

  it('renders no script link, whatever another client stored', async () => {
    const name = docName('links-stored');
    const client = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => client.destroy());
    await client.synced;
    writeLinks(
      client.doc,
      [...HIDDEN_SCRIPTS, 'https://example.com/safe'].map((href, index) => [`link${index}`, href] as const),
    );

    const context = await newContext(suite.browser);
    cleanup.push(() => context.close());
    const page = await openEditor(context, suite.server.httpUrl, name);
    await waitForText(page, `link${HIDDEN_SCRIPTS.length}`);
    // What the browser would follow: `a.href` is the attribute as its URL parser reads it.
    const links = await page.$$eval('.ProseMirror a', (anchors) =>
      anchors.map((anchor) => ({ text: anchor.textContent, target: anchor.hasAttribute('href') ? (anchor as HTMLAnchorElement).href : null })),
    );
    expect(links).toHaveLength(HIDDEN_SCRIPTS.length + 1);
    for (const link of links) expect(link.target ?? '', link.text ?? '').not.toMatch(/^javascript:/i);
    expect(links.at(-1)).toEqual({ text: `link${HIDDEN_SCRIPTS.length}`, target: 'https://example.com/safe' });
  });

  it('pastes a script link as its text only, and a safe link as a link', async () => {
    const name = docName('links-pasted');
    const client = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => client.destroy());
    await client.synced;
    const context = await newContext(suite.browser);
    cleanup.push(() => context.close());
    const page = await openEditor(context, suite.server.httpUrl, name);

    // Not the NUL one: the HTML parser reads `&#0;` as U+FFFD, which makes a harmless relative link.
    const html = [...HIDDEN_SCRIPTS.filter((href) => !href.includes('\x00')), 'javascript:window.PWNED=0']
      .map((href, index) => `<p><a href="${href.replace(/[\x00-\x1f]/g, (char) => `&#${char.charCodeAt(0)};`)}">pasted${index}</a></p>`)
      .concat('<p><a href="https://example.com/pasted">pasted safe</a></p>')
      .join('');
    await page.locator('.ProseMirror').focus();
    // A paste as the browser delivers it: ProseMirror reads the clipboard's text/html.
    await page.evaluate((content) => {
      const data = new DataTransfer();
      data.setData('text/html', content);
      data.setData('text/plain', 'pasted');
      document.querySelector('.ProseMirror')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, html);

    const fragment = client.doc.getXmlFragment('prosemirror');
    await waitForDoc(client.doc, () => fragment.toString().includes('pasted safe'), 'the pasted text in Node');
    expect(fragment.toString()).toContain('pasted0');
    expect(storedHrefs(fragment)).toEqual(['https://example.com/pasted']);
    expect(await page.$$eval('.ProseMirror a', (anchors) => anchors.map((anchor) => (anchor as HTMLAnchorElement).href))).toEqual([
      'https://example.com/pasted',
    ]);
  });

  it('opens a link in a new tab on Ctrl+click, and places the caret on a plain click', async () => {
    const name = docName('links-follow');
    const other = docName('links-other');
    const client = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => client.destroy());
    await client.synced;
    writeLinks(client.doc, [
      ['hidden script', HIDDEN_SCRIPTS[0]!],
      ['other document', `/d/${other}`],
    ]);

    const context = await newContext(suite.browser);
    cleanup.push(() => context.close());
    const page = await openEditor(context, suite.server.httpUrl, name);
    await waitForText(page, 'other document');
    const opened: Page[] = [];
    context.on('page', (popup) => opened.push(popup));
    const link = page.locator('.ProseMirror a', { hasText: 'other document' });
    expect(await link.getAttribute('title')).toBe('Ctrl+click to open');

    // A plain click puts the caret in the link (the link button shows it), and opens nothing.
    await link.click();
    await page.locator('button[data-command=link][aria-pressed=true]').waitFor();
    // Ctrl+click on a script address opens nothing either; on the other document's, a new tab.
    await page.locator('.ProseMirror p', { hasText: 'hidden script' }).click({ modifiers: ['Control'] });
    const popup = context.waitForEvent('page', { timeout: 10_000 });
    await link.click({ modifiers: ['Control'] });
    const tab = await popup;
    await tab.waitForURL(`${suite.server.httpUrl}/d/${other}`);
    // Pages open in the order they were asked for: had an earlier click opened one, it would be first.
    expect(opened).toEqual([tab]);
    expect(page.url()).toBe(`${suite.server.httpUrl}/d/${name}`);
    // Opened with noopener: the new tab has no handle on the editor's page.
    expect(await tab.evaluate(() => window.opener)).toBeNull();
  });
});
