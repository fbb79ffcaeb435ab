/**
 * Two people in two browsers on one document: typing, formatting, carets, presence, undo and the
 * saved status, all through the real server.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import {
  blockTexts,
  browserAndServerForSuite,
  describeInBrowser,
  newContext,
  openEditor,
  typeAtEnd,
  waitForNoText,
  waitForStatus,
  waitForText,
} from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';

const cleanup = cleanupAfterEach();
let counter = 0;
const docName = (label: string) => `e2e/${label}-${Date.now().toString(36)}-${counter++}`;

describeInBrowser('editing together in two browsers', () => {
  const suite = browserAndServerForSuite();

  async function twoEditors(name: string): Promise<[Page, Page]> {
    const [ada, bob] = await Promise.all([
      newContext(suite.browser, { userName: 'Ada Lovelace', userColor: '#db2777' }),
      newContext(suite.browser, { userName: 'Bob Kahn', userColor: '#16a34a' }),
    ]);
    cleanup.push(
      () => ada.close(),
      () => bob.close(),
    );
    return Promise.all([openEditor(ada, suite.server.httpUrl, name), openEditor(bob, suite.server.httpUrl, name)]);
  }

  it('shows each person what the other types, both ways', async () => {
    const [ada, bob] = await twoEditors(docName('typing'));
    await typeAtEnd(ada, 'Hello from Ada');
    await waitForText(bob, 'Hello from Ada');
    await typeAtEnd(bob, 'And hello from Bob');
    await waitForText(ada, 'And hello from Bob');
    await expect.poll(() => blockTexts(ada)).toEqual(['Hello from Ada', 'And hello from Bob']);
    await expect.poll(() => blockTexts(bob)).toEqual(['Hello from Ada', 'And hello from Bob']);
  });

  it('carries bold, a heading and a list to the other browser', async () => {
    const [ada, bob] = await twoEditors(docName('formatting'));
    const editor = ada.locator('.ProseMirror');
    await editor.focus();
    await ada.keyboard.type('# Plans for spring\n');
    await ada.keyboard.type('Keep it ');
    await ada.keyboard.press('Control+b');
    await ada.keyboard.type('simple');
    await ada.keyboard.press('Control+b');
    await ada.keyboard.type(' and **calm** please\n');
    await ada.keyboard.type('- first point\nsecond point\n\n');
    await ada.keyboard.type('1. one\ntwo');

    await bob.locator('.ProseMirror h1', { hasText: 'Plans for spring' }).waitFor();
    await bob.locator('.ProseMirror strong', { hasText: 'simple' }).waitFor();
    await bob.locator('.ProseMirror strong', { hasText: 'calm' }).waitFor();
    await bob.locator('.ProseMirror ul > li', { hasText: 'second point' }).waitFor();
    await bob.locator('.ProseMirror ol > li', { hasText: 'two' }).waitFor();
    expect(await blockTexts(bob, 'ul > li')).toEqual(['first point', 'second point']);
    expect((await blockTexts(bob, 'p')).join('\n')).not.toContain('**');

    // And back: Bob uses the toolbar.
    await bob.locator('.ProseMirror h1').click();
    // The menu shows the block at the editor's selection: wait until the click has reached it.
    await bob.waitForFunction(() => (document.querySelector('select.ce-block-type') as HTMLSelectElement | null)?.value === 'h1');
    await bob.locator('select.ce-block-type').selectOption('h2');
    await ada.locator('.ProseMirror h2', { hasText: 'Plans for spring' }).waitFor();
  });

  it("draws the other person's caret with their name, and lists who is here", async () => {
    const [ada, bob] = await twoEditors(docName('carets'));
    await typeAtEnd(ada, 'Where is my caret');
    const caret = bob.locator('.ProseMirror-yjs-cursor[data-name="Ada Lovelace"]');
    await caret.waitFor({ state: 'attached' });
    // The name is drawn above the caret (generated content, so it never mixes with the text).
    expect(await caret.evaluate((element) => getComputedStyle(element, '::after').content)).toBe('"Ada Lovelace"');
    await expect.poll(() => caret.evaluate((element) => getComputedStyle(element).borderLeftColor)).toBe('rgb(219, 39, 119)');

    await bob.locator('.ce-person-name', { hasText: 'Ada Lovelace' }).waitFor({ state: 'attached' });
    await ada.locator('.ce-person-name', { hasText: 'Bob Kahn' }).waitFor({ state: 'attached' });

    // Bob renames himself; Ada's list follows, and the new name is remembered across a reload.
    await bob.locator('.ce-person[data-self] button').click();
    await bob.locator('.ce-rename input').fill('Robert');
    await bob.locator('.ce-rename button[type=submit]').click();
    await ada.locator('.ce-person-name', { hasText: 'Robert' }).waitFor({ state: 'attached' });
    // The focus is back in the text: typing goes on there.
    await bob.keyboard.type(' (renamed)');
    await waitForText(ada, ' (renamed)');
    await bob.reload();
    await bob.locator('.ce-person[data-self] .ce-person-name', { hasText: 'Robert' }).waitFor({ state: 'attached' });
  });

  it('gives the focus back to the text after a rename', async () => {
    const [ada] = await twoEditors(docName('rename-focus'));
    await typeAtEnd(ada, 'Before the rename');
    await ada.locator('.ce-person[data-self] button').click();
    await ada.locator('.ce-rename input').fill('Ada King');
    await ada.keyboard.press('Enter');
    // The next keystrokes went nowhere: the focus was left on the page.
    await ada.waitForFunction(() => document.activeElement?.classList.contains('ProseMirror') === true, null, { timeout: 5_000 });
    await ada.keyboard.type(' and after');
    await waitForText(ada, 'Before the rename and after');
  });

  it("undoes only the local user's change", async () => {
    const [ada, bob] = await twoEditors(docName('undo'));
    await typeAtEnd(ada, 'Ada wrote this');
    await waitForText(bob, 'Ada wrote this');
    await typeAtEnd(bob, 'Bob wrote that');
    await waitForText(ada, 'Bob wrote that');

    await ada.keyboard.press('Control+z');
    await waitForNoText(ada, 'Ada wrote this');
    await waitForNoText(bob, 'Ada wrote this');
    expect(await blockTexts(ada)).toContain('Bob wrote that');
    expect(await blockTexts(bob)).toContain('Bob wrote that');

    await ada.keyboard.press('Control+Shift+z');
    await waitForText(bob, 'Ada wrote this');
  });

  it("keeps the other person's words when a change of block type is undone", async () => {
    // Making a heading replaces the paragraph with a new element; undoing it deleted that element
    // with whatever the other person had typed into it since.
    const name = docName('undo-block');
    const [ada, bob] = await twoEditors(name);
    await typeAtEnd(ada, 'Title');
    await ada.keyboard.press('Control+Shift+1');
    await bob.locator('.ProseMirror h1', { hasText: 'Title' }).waitFor();
    await typeAtEnd(bob, ' by Bob', false);
    await ada.locator('.ProseMirror h1', { hasText: 'Title by Bob' }).waitFor();

    await ada.keyboard.press('Control+z');
    await waitForNoText(ada, 'Title by Bob');
    await waitForNoText(bob, 'Title by Bob');
    for (const page of [ada, bob]) expect((await blockTexts(page, 'h1, p')).join('|')).toContain(' by Bob');
    const reader = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => reader.destroy());
    await reader.synced;
    expect(reader.doc.getXmlFragment('prosemirror').toString()).toContain(' by Bob');
  });

  it('redoes what was undone in a new document, and a redo too many changes nothing', async () => {
    // Undoing the first words of a new document used to empty it; the editor then wrote a new
    // empty paragraph as a change of its own, which cleared the redo history.
    const name = docName('redo-new');
    const [ada, bob] = await twoEditors(name);
    const reader = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => reader.destroy());
    const stored = () => reader.doc.getXmlFragment('prosemirror').toString();
    await typeAtEnd(ada, 'First words of a new document');
    await waitForText(bob, 'First words of a new document');

    await ada.keyboard.press('Control+z');
    await waitForNoText(ada, 'First words');
    await waitForNoText(bob, 'First words');

    await ada.keyboard.press('Control+Shift+z');
    await waitForText(bob, 'First words of a new document');
    await waitForDoc(reader.doc, () => stored().includes('First words of a new document'), 'the redo stored');
    expect(await blockTexts(ada)).toEqual(['First words of a new document']);
    expect(stored()).toBe('<paragraph>First words of a new document</paragraph>');

    // Nothing is left to redo: the key must not fall through to undo (as it did for a lowercase
    // `z`, which Caps Lock gives) nor to the browser. Keys are handled in order, so once the
    // next typing arrives the extra redo has been handled.
    await ada.keyboard.press('Control+Shift+z');
    await ada.keyboard.type('!');
    await waitForText(bob, 'First words of a new document!');
    expect(await blockTexts(ada)).toEqual(['First words of a new document!']);
  });

  it('says "saved" only once the server has stored the change', async () => {
    const name = docName('saved');
    const [ada] = await twoEditors(name);
    await typeAtEnd(ada, 'Stored for sure');
    await waitForStatus(ada, ['saved']);
    const label = await ada.locator('.ce-status').textContent();
    expect(label).toContain('Saved');
    // What the status promised is what a newcomer gets from the server.
    const reader = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => reader.destroy());
    await reader.synced;
    expect(reader.doc.getXmlFragment('prosemirror').toString()).toContain('Stored for sure');
  });
});
