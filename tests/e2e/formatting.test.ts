/**
 * Every format the editor offers, made with markdown shortcuts, keys and the toolbar, stored in
 * the shared fragment under the node and mark names other Yjs clients read.
 */
import { expect, it } from 'vitest';
import { browserAndServerForSuite, describeInBrowser, newContext, openEditor, waitForCaretAtEnd } from '../helpers/browser.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';

describeInBrowser('formatting', () => {
  const suite = browserAndServerForSuite();

  it('makes every block and mark from shortcuts and the toolbar', async () => {
    const name = `e2e/formatting-${Date.now().toString(36)}`;
    const context = await newContext(suite.browser);
    const client = connectClient(suite.server.wsUrl, name);
    try {
      const page = await openEditor(context, suite.server.httpUrl, name);
      const editor = page.locator('.ProseMirror');
      await editor.focus();
      const type = (text: string) => page.keyboard.type(text);

      await type('## Shortcuts\n');
      await type('Some *soft* and `code` words');
      await page.keyboard.press('Shift+Enter');
      await type('after a break\n');
      await type('> a quote\n\n');
      await type('```');
      await type('const answer = 42;');
      // Leave the code block for a new paragraph below it.
      await page.keyboard.press('Control+Enter');
      await type('---');
      await type('1. first\nsecond\n\n');

      // The toolbar: a bullet list, and a link on selected text.
      await type('Toolbar list');
      await page.locator('button[data-command=bullet-list]').click();
      await page.keyboard.press('End');
      await waitForCaretAtEnd(page);
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      await type('link me');
      await page.keyboard.press('Shift+Home');
      // The editor learns of the new selection a task later than the browser; the button acts on the editor's.
      await page.waitForFunction(() => {
        const { selection } = (window as unknown as { collabEditor: { view: { state: { selection: { from: number; to: number } } } } }).collabEditor.view.state;
        return selection.to - selection.from === 'link me'.length;
      });
      page.once('dialog', (dialog) => void dialog.accept('https://example.com/docs'));
      await page.locator('button[data-command=link]').click();

      await editor.locator('h2', { hasText: 'Shortcuts' }).waitFor();
      await editor.locator('em', { hasText: 'soft' }).waitFor();
      await editor.locator('code', { hasText: 'code' }).waitFor();
      await editor.locator('p br:not(.ProseMirror-trailingBreak)').first().waitFor({ state: 'attached' });
      await editor.locator('blockquote', { hasText: 'a quote' }).waitFor();
      await editor.locator('pre code', { hasText: 'const answer = 42;' }).waitFor();
      await editor.locator('hr').waitFor();
      await editor.locator('ol > li', { hasText: 'second' }).waitFor();
      await editor.locator('ul > li', { hasText: 'Toolbar list' }).waitFor();
      const link = editor.locator('a', { hasText: 'link me' });
      await link.waitFor();
      expect(await link.getAttribute('href')).toBe('https://example.com/docs');
      expect(await page.locator('button[data-command=link]').getAttribute('aria-pressed')).toBe('true');

      // The same structure, as any Yjs client reads it.
      await client.synced;
      const fragment = client.doc.getXmlFragment('prosemirror');
      await waitForDoc(client.doc, () => fragment.toString().includes('link me'), 'the link in Node');
      const xml = fragment.toString();
      for (const tag of [
        '<heading level="2">',
        '<blockquote>',
        '<code_block>',
        '<horizontal_rule>',
        '<hard_break>',
        '<ordered_list',
        '<bullet_list>',
        '<list_item>',
      ]) {
        expect(xml, tag).toContain(tag);
      }
      for (const mark of ['<em>soft</em>', '<code>code</code>']) expect(xml).toContain(mark);
      expect(xml).toMatch(/<link href="https:\/\/example\.com\/docs"[^>]*>link me<\/link>/);
    } finally {
      await context.close();
      client.destroy();
    }
  });

  it('goes on typing below a divider made as the first edit of a new document, from the toolbar or Mod-_', async () => {
    // Chromium typed the next key above the rule: the browser's caret was still where it had been
    // placed before the rule existed.
    for (const how of ['toolbar', 'key'] as const) {
      const name = `e2e/formatting-rule-${how}-${Date.now().toString(36)}`;
      const context = await newContext(suite.browser);
      const client = connectClient(suite.server.wsUrl, name);
      try {
        const page = await openEditor(context, suite.server.httpUrl, name);
        await page.locator('.ProseMirror').click();
        if (how === 'toolbar') await page.locator('button[data-command=horizontal-rule]').click();
        else await page.keyboard.press('Control+Shift+Minus');
        await page.locator('.ProseMirror > hr').waitFor();
        await page.keyboard.type('Below the rule');
        const fragment = client.doc.getXmlFragment('prosemirror');
        await waitForDoc(client.doc, () => fragment.toString().includes('Below the rule'), 'the typing after the rule');
        expect(fragment.toString(), how).toBe('<horizontal_rule></horizontal_rule><paragraph>Below the rule</paragraph>');
      } finally {
        await context.close();
        client.destroy();
      }
    }
  });
});
