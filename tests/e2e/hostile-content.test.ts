/**
 * What another client can put in a document or its presence, against the editor in Chromium: the
 * editor must neither lose content nor stop showing others' edits. Before, an element the schema
 * did not know was deleted for everyone by merely opening the page; text at the top level froze the
 * editor (still saying "saved") until the user's next keystroke wrote the stale copy back over
 * everyone's edits; and one presence state with a string `user` did the same from a read-only
 * connection, while a presence "color" could cover the page.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { browserAndServerForSuite, describeInBrowser, newContext, openEditor, typeAtEnd, waitForStatus, waitForText } from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import * as encoding from 'lib0/encoding';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { connectClient, connectRaw, waitForDoc, waitForEvent, type YClient } from '../helpers/clients.js';

const cleanup = cleanupAfterEach();
let counter = 0;
const docName = (label: string) => `e2e/hostile-${label}-${Date.now().toString(36)}-${counter++}`;

function paragraph(content: string): Y.XmlElement {
  const element = new Y.XmlElement('paragraph');
  const text = new Y.XmlText();
  text.insert(0, content);
  element.insert(0, [text]);
  return element;
}

/** The names and texts of the fragment's top-level elements, as a Node client sees them. */
function outline(doc: Y.Doc): string[] {
  return doc
    .getXmlFragment(FRAGMENT_NAME)
    .toArray()
    .map((child) =>
      child instanceof Y.XmlElement
        ? `${child.nodeName}:${child
            .toArray()
            .map((c) => (c instanceof Y.XmlText ? c.toString() : c.toString().replace(/<[^>]*>/g, '')))
            .join('')}`
        : `${child.constructor.name}:${child.toString()}`,
    );
}

/** Types `text` in a new paragraph of the page, and returns the writer's outline once it has it. */
async function typedAndReceived(page: Page, writer: YClient, text: string): Promise<string[]> {
  await typeAtEnd(page, text);
  await waitForDoc(writer.doc, () => outline(writer.doc).includes(`paragraph:${text}`), `"${text}" typed in the page`);
  return outline(writer.doc);
}

describeInBrowser('content and presence the editor must survive', () => {
  const suite = browserAndServerForSuite();

  async function nodeClient(name: string): Promise<YClient> {
    const client = connectClient(suite.server.wsUrl, name);
    cleanup.push(() => client.destroy());
    await client.synced;
    return client;
  }

  /** What the server holds of `name`, read by a client that connects now. */
  async function stored(name: string): Promise<string[]> {
    const reader = await nodeClient(name);
    const result = outline(reader.doc);
    reader.destroy();
    return result;
  }

  /** The editor page on `name`, and every error it reports (page errors and console errors). */
  async function editorPage(name: string): Promise<{ page: Page; errors: string[] }> {
    const context = await newContext(suite.browser, { userName: 'Honest Hana' });
    cleanup.push(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${suite.server.httpUrl}/d/${name.split('/').map(encodeURIComponent).join('/')}`);
    return { page, errors };
  }

  it('opens a document holding an element it does not know without deleting it, paused, and resumes once it is gone', async () => {
    const name = docName('unknown');
    const writer = await nodeClient(name);
    const callout = new Y.XmlElement('callout');
    callout.setAttribute('kind', 'warning');
    callout.insert(0, [paragraph('inside the callout')]);
    writer.doc.getXmlFragment(FRAGMENT_NAME).insert(0, [paragraph('before'), callout, paragraph('after')]);

    const { page: hana, errors } = await editorPage(name);
    await hana.locator('.ce-paused', { hasText: 'a "callout" element, which this editor does not know' }).waitFor();
    expect(await hana.locator('.ProseMirror').count()).toBe(0);
    // In sync, with nothing of its own waiting to be stored: had it deleted anything, that would be stored by now.
    await waitForStatus(hana, ['live', 'saved']);
    expect(await stored(name)).toEqual(['paragraph:before', 'callout:inside the callout', 'paragraph:after']);

    // The other app removes its element: editing resumes, with everything else there.
    writer.doc.getXmlFragment(FRAGMENT_NAME).delete(1, 1);
    await waitForText(hana, 'after');
    expect(await hana.locator('.ce-paused').count()).toBe(0);
    expect(await typedAndReceived(hana, writer, 'typed after resuming')).toEqual(['paragraph:before', 'paragraph:after', 'paragraph:typed after resuming']);
    expect(errors).toEqual([]);
  });

  it('does not pause for what concurrent edits leave empty: y-prosemirror removes it, and nothing is lost', async () => {
    const name = docName('empty-list');
    const writer = await nodeClient(name);
    // What two people each lifting one item out of the same list, offline, leave behind.
    writer.doc.getXmlFragment(FRAGMENT_NAME).insert(0, [paragraph('one'), new Y.XmlElement('bullet_list'), paragraph('two')]);
    const { page: hana, errors } = await editorPage(name);
    await waitForText(hana, 'two');
    expect(await hana.locator('.ce-paused').count()).toBe(0);
    await waitForDoc(writer.doc, () => outline(writer.doc).length === 2, 'the empty list removed');
    expect(outline(writer.doc)).toEqual(['paragraph:one', 'paragraph:two']);
    expect(errors).toEqual([]);
  });

  it('pauses when text arrives where blocks belong, instead of freezing and then writing its stale copy over others', async () => {
    const name = docName('root-text');
    const writer = await nodeClient(name);
    const context = await newContext(suite.browser, { userName: 'Honest Hana' });
    cleanup.push(() => context.close());
    const hana = await openEditor(context, suite.server.httpUrl, name);
    await typeAtEnd(hana, 'typed before');
    await waitForDoc(writer.doc, () => outline(writer.doc).includes('paragraph:typed before'), 'the first paragraph');

    const fragment = writer.doc.getXmlFragment(FRAGMENT_NAME);
    const loose = new Y.XmlText();
    loose.insert(0, 'loose text');
    fragment.push([loose]);
    await hana.locator('.ce-paused', { hasText: 'text where the editor expects a block' }).waitFor();
    // Edits go on elsewhere meanwhile; the paused page writes nothing over them.
    fragment.push([paragraph('edited while paused')]);
    await waitForStatus(hana, ['live', 'saved']);
    expect(await stored(name)).toEqual(['paragraph:typed before', 'YXmlText:loose text', 'paragraph:edited while paused']);

    fragment.delete(1, 1);
    await waitForText(hana, 'edited while paused');
    expect(await typedAndReceived(hana, writer, 'typed after')).toEqual(['paragraph:typed before', 'paragraph:edited while paused', 'paragraph:typed after']);
  });

  it("keeps showing others' edits through malformed presence, and draws a selection only in a checked color", async () => {
    const name = docName('presence');
    const writer = await nodeClient(name);
    writer.doc.getXmlFragment(FRAGMENT_NAME).insert(0, [paragraph('shared paragraph')]);
    const { page: opened, errors } = await editorPage(name);
    await waitForText(opened, 'shared paragraph');
    await waitForStatus(opened, ['live', 'saved']);

    // One client publishes presence y-prosemirror cannot read, another a "color" that is CSS.
    const broken = await nodeClient(name);
    broken.provider.awareness.setLocalState({ user: 'not an object', cursor: {} });
    const styled = await nodeClient(name);
    const text = (styled.doc.getXmlFragment(FRAGMENT_NAME).get(0) as Y.XmlElement).get(0) as Y.XmlText;
    styled.provider.awareness.setLocalState({
      user: { name: 'Mallory', color: 'red;position:fixed;inset:0;z-index:2147483647' },
      cursor: {
        anchor: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, 0)),
        head: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, 6)),
      },
    });
    await opened.locator('.ProseMirror-yjs-cursor[data-name="Mallory"]').waitFor();

    writer.doc.getXmlFragment(FRAGMENT_NAME).push([paragraph('remote edit after the presence')]);
    await waitForText(opened, 'remote edit after the presence');
    const styles = await opened.locator('.ProseMirror [style]').evaluateAll((elements) => elements.map((element) => element.getAttribute('style') ?? ''));
    // The fallback color (#64748b) at the selection's alpha (0x70), as Chromium writes it.
    expect(styles).toContain('background-color: rgba(100, 116, 139, 0.44);');
    expect(styles.filter((style) => style.includes('position'))).toEqual([]);

    expect(await typedAndReceived(opened, writer, 'typed by Hana')).toEqual([
      'paragraph:shared paragraph',
      'paragraph:remote edit after the presence',
      'paragraph:typed by Hana',
    ]);
    expect(errors).toEqual([]);
  });

  it("keeps its user's presence its own when another client publishes presence for its client id", async () => {
    const name = docName('posing');
    const { page: hana } = await editorPage(name);
    await waitForStatus(hana, ['live', 'saved']);
    const clientId = await hana.evaluate(() => (window as unknown as { collabEditor: { doc: { clientID: number } } }).collabEditor.doc.clientID);

    // Mallory publishes a state for Hana's client id, at a clock far past hers, from her address
    // (an open server lets that through: it cannot tell the two apart).
    const forged = new Y.Doc();
    forged.clientID = clientId;
    const posing = new Awareness(forged);
    for (let clock = 0; clock < 100; clock++) posing.setLocalState({ user: { name: 'Mallory posing as Hana', color: '#000000' } });
    const message = encoding.createEncoder();
    encoding.writeVarUint(message, 1);
    encoding.writeVarUint8Array(message, encodeAwarenessUpdate(posing, [clientId]));
    const mallory = connectRaw(`${suite.server.wsUrl}/${name}`);
    cleanup.push(() => mallory.socket.close());
    await mallory.opened;
    mallory.socket.send(encoding.toUint8Array(message));
    posing.destroy();

    // Everyone, the page itself included, ends with Hana's own state, published again past the forgery.
    const observer = await nodeClient(name);
    const seen = () => observer.provider.awareness.getStates().get(clientId) as { user?: { name?: string } } | undefined;
    await waitForEvent(
      observer.provider.awareness,
      'change',
      () => seen()?.user?.name === 'Honest Hana' && (observer.provider.awareness.meta.get(clientId)?.clock ?? 0) > 100,
      "Hana's own presence, after the forgery",
    );
    const own = await hana.evaluate(
      () =>
        (
          window as unknown as { collabEditor: { provider: { awareness: { getLocalState(): { user: { name: string } } } } } }
        ).collabEditor.provider.awareness.getLocalState().user.name,
    );
    expect(own).toBe('Honest Hana');
  });
});
