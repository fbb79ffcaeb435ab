/**
 * The editor on a server that requires tokens: the page passes `?token=` on, a read-write token
 * edits, a read-only token shows the document live but cannot change it.
 */
import { expect, it } from 'vitest';
import { mintToken, secretKey } from '../../server/auth/token.js';
import { blockTexts, browserAndServerForSuite, describeInBrowser, newContext, openEditor, typeAtEnd, waitForStatus, waitForText } from '../helpers/browser.js';

const SECRET = 'e2e-secret-that-is-long-enough-for-hs256-0123456789';


describeInBrowser('the editor with access tokens', () => {
  const suite = browserAndServerForSuite({ args: ['--auth-secret', SECRET] });

  it('edits with a read-write token and only reads with a read-only one', async () => {
    const name = `e2e/tokens-${Date.now().toString(36)}`;
    const key = secretKey(SECRET);
    const [writeToken, readToken] = await Promise.all([
      mintToken(key, { doc: name, mode: 'rw', sub: 'writer' }, 600),
      mintToken(key, { doc: name, mode: 'ro', sub: 'reader' }, 600),
    ]);
    const [writerContext, readerContext] = await Promise.all([newContext(suite.browser), newContext(suite.browser)]);
    try {
      const writer = await openEditor(writerContext, suite.server.httpUrl, name, `?token=${writeToken}`);
      await typeAtEnd(writer, 'Only the writer writes');
      await waitForStatus(writer, ['saved']);

      const reader = await openEditor(readerContext, suite.server.httpUrl, name, `?token=${readToken}`);
      await waitForText(reader, 'Only the writer writes');
      expect(await reader.locator('.ProseMirror').getAttribute('contenteditable')).toBe('false');
      expect(await reader.locator('.ce-status').textContent()).toContain('Read-only');

      // Typing does nothing, and live updates keep arriving.
      await reader.locator('.ProseMirror').click();
      await reader.keyboard.type('reader was here');
      await typeAtEnd(writer, 'A second line');
      await waitForText(reader, 'A second line');
      expect(await blockTexts(reader)).toEqual(['Only the writer writes', 'A second line']);
    } finally {
      await Promise.all([writerContext.close(), readerContext.close()]);
    }
  });

  it('says so when the token expires while the page is open', async () => {
    const name = `e2e/tokens-expiry-${Date.now().toString(36)}`;
    // Long enough to connect on a busy machine, short enough not to slow the suite much.
    const shortLived = await mintToken(secretKey(SECRET), { doc: name, mode: 'rw' }, 4);
    const context = await newContext(suite.browser);
    try {
      const page = await openEditor(context, suite.server.httpUrl, name, `?token=${shortLived}`);
      await waitForStatus(page, ['error'], 10_000);
      expect(await page.locator('.ce-status').textContent()).toContain('token expired');
    } finally {
      await context.close();
    }
  });

  it('stays offline without a token, and says so', async () => {
    const context = await newContext(suite.browser);
    try {
      const page = await context.newPage();
      await page.goto(`${suite.server.httpUrl}/d/e2e/no-token`);
      await waitForStatus(page, ['offline']);
      expect(await page.locator('.ce-status').textContent()).toContain('Offline');
    } finally {
      await context.close();
    }
  });
});
