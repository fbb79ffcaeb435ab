/**
 * Chromium and the server agree on permessage-deflate, as browsers offer it: a large document
 * loads in the editor compressed, and what the page types (Chromium compresses every message it
 * sends) reaches the others.
 */
import { expect, it } from 'vitest';
import * as Y from 'yjs';
import { browserAndServerForSuite, describeInBrowser, newContext, openEditor, typeAtEnd, waitForText } from '../helpers/browser.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';

describeInBrowser('compression with Chromium', () => {
  const suite = browserAndServerForSuite();

  it('negotiates permessage-deflate, loads a large document and sends what is typed', async () => {
    const name = `e2e/compression-${Date.now().toString(36)}`;
    const writer = connectClient(suite.server.wsUrl, name);
    const context = await newContext(suite.browser, { userName: 'Compressed' });
    try {
      await writer.synced;
      // 2,000 paragraphs: a first sync of some 100 KB, which goes compressed.
      const fragment = writer.doc.getXmlFragment('prosemirror');
      writer.doc.transact(() => {
        fragment.insert(
          0,
          Array.from({ length: 2000 }, (_, i) => {
            const paragraph = new Y.XmlElement('paragraph');
            paragraph.insert(0, [new Y.XmlText(`Paragraph ${i} of a long document that loads compressed.`)]);
            return paragraph;
          }),
        );
      });
      const page = await openEditor(context, suite.server.httpUrl, name);
      const extensions = await page.evaluate(
        (url) =>
          new Promise<string>((resolve, reject) => {
            const socket = new WebSocket(url);
            socket.onopen = () => {
              resolve(socket.extensions);
              socket.close();
            };
            socket.onerror = () => reject(new Error('the WebSocket did not open'));
          }),
        `${suite.server.wsUrl}/${name}`,
      );
      expect(extensions).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
      await waitForText(page, 'Paragraph 1999 of a long document that loads compressed.');
      await typeAtEnd(page, 'Typed through a compressed connection');
      await waitForDoc(writer.doc, () => fragment.toString().includes('Typed through a compressed connection'), 'the typed paragraph');
    } finally {
      await context.close();
      writer.destroy();
    }
  });
});
