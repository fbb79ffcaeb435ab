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

  it('says that the server refuses a missing or forged token, rather than that it is offline', async () => {
    // A browser hides the answer to a refused upgrade; the editor asks the server over HTTP.
    const forged = `${(await mintToken(secretKey(SECRET), { doc: '*', mode: 'rw' }, 3600)).slice(0, -4)}AAAA`;
    for (const [query, reason] of [
      ['', 'a token is needed'],
      [`?token=${forged}`, 'invalid token'],
    ] as const) {
      const context = await newContext(suite.browser);
      try {
        const page = await context.newPage();
        await page.goto(`${suite.server.httpUrl}/d/e2e/refused${query}`);
        await waitForStatus(page, ['error']);
        const label = await page.locator('.ce-status').textContent();
        expect(label, query).toContain(`the server refused the connection: ${reason}`);
        expect(label, query).not.toContain(forged);
      } finally {
        await context.close();
      }
    }
  });
});
