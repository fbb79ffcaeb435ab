/**
 * The page and a plain Yjs client (the official y-websocket provider in Node) edit the same
 * `prosemirror` XmlFragment: the editor is a client like any other.
 */
import { expect, it } from 'vitest';
import * as Y from 'yjs';
import { blockTexts, browserAndServerForSuite, describeInBrowser, newContext, openEditor, typeAtEnd, waitForText } from '../helpers/browser.js';
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';

describeInBrowser('the editor and a Node Yjs client', () => {
  const suite = browserAndServerForSuite();

  it('shows what the Node client writes, and the Node client gets what is typed in the page', async () => {
    const name = `e2e/node-client-${Date.now().toString(36)}`;
    const client: YClient = connectClient(suite.server.wsUrl, name);
    const context = await newContext(suite.browser, { userName: 'Page user' });
    try {
      await client.synced;
      const fragment = client.doc.getXmlFragment('prosemirror');
      const page = await openEditor(context, suite.server.httpUrl, name);

      // Node writes a heading and a paragraph, as y-prosemirror would store them.
      client.doc.transact(() => {
        // y-prosemirror stores attributes with their ProseMirror types: a heading's level is a number.
        const heading = new Y.XmlElement('heading');
        (heading as Y.XmlElement<{ level: number }>).setAttribute('level', 2);
        heading.insert(0, [new Y.XmlText('Agenda')]);
        const paragraph = new Y.XmlElement('paragraph');
        paragraph.insert(0, [new Y.XmlText('Written by a Node client')]);
        fragment.insert(fragment.length, [heading, paragraph]);
      });
      await page.locator('.ProseMirror h2', { hasText: 'Agenda' }).waitFor();
      await waitForText(page, 'Written by a Node client');

      // The page types below it; Node sees it in the fragment.
      await typeAtEnd(page, 'Typed in Chromium');
      await waitForDoc(client.doc, () => fragment.toString().includes('Typed in Chromium'), 'the typed paragraph in Node');
      const paragraphs = fragment
        .toArray()
        .filter((node): node is Y.XmlElement => node instanceof Y.XmlElement && node.nodeName === 'paragraph')
        .map((node) =>
          node
            .toArray()
            .map((text) => (text instanceof Y.XmlText ? text.toString() : ''))
            .join(''),
        );
      expect(paragraphs).toEqual(['Written by a Node client', 'Typed in Chromium']);
      expect(await blockTexts(page)).toEqual(['Written by a Node client', 'Typed in Chromium']);
    } finally {
      await context.close();
      client.destroy();
    }
  });
});
