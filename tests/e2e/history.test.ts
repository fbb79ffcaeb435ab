/**
 * The editor's history panel and export, in Chromium against a real server with tokens: versions
 * taken over the API are listed, one previews with the changed paragraph marked, Restore (admin)
 * changes this editor and another browser's live and Undo restores the version taken before it;
 * a writer names a version from the panel; each export downloads what the API serves in its format.
 */
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { call, documentUrl, markdownOf, putMarkdown } from '../api/api.js';
import {
  browserAndServerForSuite,
  describeInBrowser,
  newContext,
  openEditor,
  typeAtEnd,
  waitForNoText,
  waitForStatus,
  waitForText,
} from '../helpers/browser.js';
import { authArgs, token } from '../helpers/tokens.js';

async function takeVersion(httpUrl: string, name: string, label: string, jwt: string): Promise<void> {
  const response = await call(documentUrl(httpUrl, name, '/versions'), {
    method: 'POST',
    body: JSON.stringify({ label }),
    headers: { 'content-type': 'application/json' },
    token: jwt,
  });
  expect(response.status, response.text).toBe(201);
}

/** Opens the history panel and waits for `count` versions in it; returns their titles, newest first. */
async function openHistory(page: Page, count: number): Promise<string[]> {
  await page.locator('[data-action=history]').click();
  await page.locator('dialog.ce-history[open]').waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('.ce-history .ce-version').length === n, count);
  return page.locator('.ce-history .ce-version-title').allTextContents();
}

/** Whether the focus is inside the open dialog `selector`. */
function focusInside(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((dialog) => document.querySelector(dialog)?.contains(document.activeElement) === true, selector);
}

describeInBrowser('the history panel and export', () => {
  // No automatic versions: the list holds just what the test takes.
  const suite = browserAndServerForSuite({ args: [...authArgs, '--version-quiet', '0'] });

  it('lists versions, previews one with its changed paragraph marked, restores it live everywhere, and undoes it', async () => {
    const { httpUrl } = suite.server;
    const name = `e2e/history-${Date.now().toString(36)}`;
    const admin = await token(name, 'rw', { admin: true, sub: 'ada' });
    const writer = await token(name, 'rw', { sub: 'bob' });
    const good = '# Plan\n\nThe good text.\n\nKept as it is.';
    const bad = '# Plan\n\nA bad paste replaced it.\n\nKept as it is.';
    expect((await putMarkdown(httpUrl, name, good, admin)).status).toBe(201);
    await takeVersion(httpUrl, name, 'good draft', admin);
    expect((await putMarkdown(httpUrl, name, bad, admin)).status).toBe(200);
    await takeVersion(httpUrl, name, 'after the paste', admin);

    const [adaContext, bobContext] = await Promise.all([newContext(suite.browser), newContext(suite.browser)]);
    try {
      const ada = await openEditor(adaContext, httpUrl, name, `?token=${admin}`);
      const bob = await openEditor(bobContext, httpUrl, name, `?token=${writer}`);
      await Promise.all([waitForText(ada, 'A bad paste'), waitForText(bob, 'A bad paste')]);

      expect(await openHistory(ada, 2)).toEqual(['after the paste', 'good draft']);
      expect(await focusInside(ada, 'dialog.ce-history')).toBe(true);
      expect(await ada.locator('.ce-history .ce-version-authors').first().textContent()).toBe('by ada');

      // The preview: the version's text, the one paragraph that differs marked as changed.
      await ada.locator('.ce-history .ce-version', { hasText: 'good draft' }).click();
      const preview = ada.locator('.ce-history .ce-preview-text');
      await preview.waitFor();
      expect(await preview.textContent()).toBe('PlanThe good text.Kept as it is.');
      const marked = ada.locator('.ce-history [data-diff]');
      expect(await marked.count()).toBe(1);
      expect(await marked.getAttribute('data-diff')).toBe('changed');
      expect(await marked.textContent()).toBe('The good text.');
      expect(await ada.locator('.ce-history .ce-diff-summary').textContent()).toContain('restoring it would change 1 block');

      // Restore: both editors follow live, and the preview now matches the current text.
      await ada.locator('.ce-history [data-action=restore]').click();
      await Promise.all([waitForText(ada, 'The good text.'), waitForText(bob, 'The good text.')]);
      await Promise.all([waitForNoText(ada, 'A bad paste'), waitForNoText(bob, 'A bad paste')]);
      await ada.waitForFunction(() => document.querySelector('.ce-history .ce-diff-summary')?.textContent === 'Same as the current text.');
      expect(await marked.count()).toBe(0);
      expect(await markdownOf(httpUrl, name, writer)).toBe(good);
      await ada.locator('.ce-history-message', { hasText: 'Restored “good draft”' }).waitFor();

      // Undo: the version the server took just before the restore, restored.
      await ada.locator('.ce-history [data-action=undo-restore]').click();
      await Promise.all([waitForText(ada, 'A bad paste'), waitForText(bob, 'A bad paste')]);
      await ada.locator('.ce-history-message', { hasText: 'Undone' }).waitFor();
      expect(await markdownOf(httpUrl, name, writer)).toBe(bad);
      // Each restore sits between versions of its own: the one before (what Undo restored) and after.
      await ada.waitForFunction(() => document.querySelectorAll('.ce-history .ce-version').length === 6);
      expect(await ada.locator('.ce-history .ce-version-title').allTextContents()).toEqual([
        'Restored Before restoring good draft',
        'Before restoring Before restoring good draft',
        'Restored good draft',
        'Before restoring good draft',
        'after the paste',
        'good draft',
      ]);

      // Escape closes the panel, and the focus goes back to the History button.
      await ada.keyboard.press('Escape');
      await ada.locator('dialog.ce-history[open]').waitFor({ state: 'hidden' });
      expect(await ada.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['action'])).toBe('history');

      // A writer without admin: no Restore, but a version can be named from the panel.
      await openHistory(bob, 6);
      await bob.locator('.ce-history .ce-version').last().click();
      await bob.locator('.ce-history .ce-preview-text').waitFor();
      expect(await bob.locator('.ce-history [data-action=restore]').count()).toBe(0);
      await bob.locator('.ce-history .ce-version-form input').fill('named by bob');
      await bob.locator('.ce-history .ce-version-form button[type=submit]').click();
      await bob.waitForFunction(() => document.querySelector('.ce-history .ce-version-title')?.textContent === 'named by bob');
      const listed = (await call(documentUrl(httpUrl, name, '/versions'), { token: writer })).json.versions as { label: string; kind: string }[];
      expect(listed[0]).toMatchObject({ label: 'named by bob', kind: 'named' });
    } finally {
      await Promise.all([adaContext.close(), bobContext.close()]);
    }
  });

  it('downloads the document as Markdown, HTML and JSON, exactly as the API serves each', async () => {
    const { httpUrl } = suite.server;
    const name = `e2e/export-${Date.now().toString(36)}`;
    const writer = await token(name, 'rw');
    expect((await putMarkdown(httpUrl, name, '# Notes\n\nSome **bold** and a [link](https://example.com).', writer)).status).toBe(201);
    const context = await newContext(suite.browser);
    try {
      const page = await openEditor(context, httpUrl, name, `?token=${writer}`);
      await typeAtEnd(page, 'Typed in the editor');
      await waitForStatus(page, ['saved']);

      const expected = { markdown: ['md', '**bold**'], html: ['html', '<strong>bold</strong>'], json: ['json', '"prosemirror"'] } as const;
      for (const [format, [extension, marker]] of Object.entries(expected)) {
        await page.locator('[data-action=export]').click();
        await page.locator('.ce-menu [data-format=markdown]').waitFor();
        // The menu takes the focus to its first item.
        expect(await page.evaluate(() => document.activeElement?.getAttribute('data-format'))).toBe('markdown');
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`.ce-menu [data-format=${format}]`).click()]);
        expect(download.suggestedFilename()).toBe(`${name.replace('/', '-')}.${extension}`);
        const downloaded = await readFile(await download.path(), 'utf8');
        const served = await call(documentUrl(httpUrl, name, `?format=${format}`), { token: writer });
        expect(served.status).toBe(200);
        expect(served.text, format).toContain('Typed in the editor');
        expect(served.text, format).toContain(marker);
        expect(downloaded, format).toBe(served.text);
        // The menu closes after a download, and the focus goes back to its button.
        await page.locator('.ce-menu').waitFor({ state: 'hidden' });
      }
    } finally {
      await context.close();
    }
  });
});
