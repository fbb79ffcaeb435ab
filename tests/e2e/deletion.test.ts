/**
 * Deleting a document from the editor, in Chromium against a real server with tokens: an admin
 * deletes after a confirmation; every open editor says so and drops its offline copy; a reader's
 * new page just says deleted; a writer's new page creates the document anew, empty; and no old
 * copy ever reaches the server: not an open page's, not a closed page's cached one opened after
 * the document was created again.
 */
import { expect, it } from 'vitest';
import { call, documentUrl, markdownOf, putMarkdown } from '../api/api.js';
import {
  browserAndServerForSuite,
  cacheNames,
  cacheWritten,
  describeInBrowser,
  newContext,
  openEditor,
  statusOf,
  typeAtEnd,
  waitForNoText,
  waitForStatus,
  waitForText,
} from '../helpers/browser.js';
import { authArgs, token } from '../helpers/tokens.js';

describeInBrowser('deleting a document from the editor', () => {
  const suite = browserAndServerForSuite({ args: authArgs });

  it('deletes after a confirmation; editors say so and drop their copy; a new page starts it anew, empty; no old copy comes back', async () => {
    const { httpUrl, port } = suite.server;
    const name = `e2e/deleted-${Date.now().toString(36)}`;
    const cache = `collab-editor:ws://127.0.0.1:${port}/ws:${name}`;
    const [admin, writer, reader] = await Promise.all([token(name, 'rw', { admin: true }), token(name, 'rw'), token(name, 'ro')]);
    const contexts = await Promise.all([newContext(suite.browser), newContext(suite.browser), newContext(suite.browser), newContext(suite.browser)]);
    const [adminContext, writerContext, readerContext, oldContext] = contexts;
    try {
      const ada = await openEditor(adminContext!, httpUrl, name, `?token=${admin}`);
      await typeAtEnd(ada, 'The secret plan');
      await waitForStatus(ada, ['saved']);
      const bob = await openEditor(writerContext!, httpUrl, name, `?token=${writer}`);
      const rita = await openEditor(readerContext!, httpUrl, name, `?token=${reader}`);
      await Promise.all([waitForText(bob, 'The secret plan'), waitForText(rita, 'The secret plan')]);
      await cacheWritten(bob);
      expect(await cacheNames(bob)).toContain(cache);
      // A page that cached the document and was closed before the deletion.
      const closed = await openEditor(oldContext!, httpUrl, name, `?token=${writer}`);
      await waitForText(closed, 'The secret plan');
      await cacheWritten(closed);
      await closed.close();
      // Only an admin token gets the button.
      expect(await bob.locator('[data-action=delete]').count()).toBe(0);

      // Escape cancels: the focus went to Cancel, and nothing is deleted.
      await ada.locator('[data-action=delete]').click();
      await ada.locator('dialog.ce-confirm[open]').waitFor();
      expect(await ada.locator('dialog.ce-confirm').getAttribute('role')).toBe('alertdialog');
      expect(await ada.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['action'])).toBe('cancel');
      await ada.keyboard.press('Escape');
      await ada.locator('dialog.ce-confirm[open]').waitFor({ state: 'hidden' });
      expect((await call(documentUrl(httpUrl, name), { token: writer })).status).toBe(200);

      await ada.locator('[data-action=delete]').click();
      await ada.locator('dialog.ce-confirm [data-action=confirm-delete]').click();
      await Promise.all([waitForStatus(ada, ['deleted']), waitForStatus(bob, ['deleted']), waitForStatus(rita, ['deleted'])]);
      expect((await call(documentUrl(httpUrl, name), { token: writer })).status).toBe(410);
      expect(await bob.locator('.ce-deleted').textContent()).toContain('This document was deleted.');
      expect(await bob.locator('.ce-status').textContent()).toContain('Deleted');
      // The copy is gone before the editor says "deleted".
      expect(await cacheNames(bob)).not.toContain(cache);
      expect(await cacheNames(ada)).not.toContain(cache);
      // A writer may create it again; a reader may not.
      expect(await bob.locator('[data-action=recreate]').textContent()).toBe('Create it again');
      expect(await rita.locator('[data-action=recreate]').count()).toBe(0);

      // A reader's new page: deleted, and nothing created.
      await rita.reload();
      await waitForStatus(rita, ['deleted']);
      expect(await rita.locator('[data-action=recreate]').count()).toBe(0);
      expect((await call(documentUrl(httpUrl, name), { token: writer })).status).toBe(410);

      // A writer's new page creates the document anew, empty.
      await bob.reload();
      await waitForStatus(bob, ['saved']);
      expect(await bob.locator('.ProseMirror').textContent()).toBe('');
      expect(await markdownOf(httpUrl, name, writer)).toBe('');
      await typeAtEnd(bob, 'A new start');
      await waitForStatus(bob, ['saved']);

      // The page that was open during the deletion, on "Create it again": the document as it is now.
      await ada.locator('[data-action=recreate]').click();
      await waitForText(ada, 'A new start');
      await waitForStatus(ada, ['live', 'saved']);
      expect(await ada.evaluate(() => document.activeElement?.classList.contains('ProseMirror'))).toBe(true);

      // The page closed before the deletion, opened again: its cached copy is of the deleted
      // document (the server holds none of it), so it is dropped, not sent.
      const reopened = await oldContext!.newPage();
      await reopened.goto(`${httpUrl}/d/${name}?token=${writer}`);
      await waitForText(reopened, 'A new start');
      await waitForStatus(reopened, ['live', 'saved']);
      await waitForNoText(reopened, 'The secret plan');
      await typeAtEnd(bob, 'Still only new text');
      await waitForText(reopened, 'Still only new text');
      expect(await markdownOf(httpUrl, name, writer)).toBe('A new start\n\nStill only new text');
      expect(await statusOf(rita)).toBe('deleted');
    } finally {
      await Promise.all(contexts.map((context) => context.close()));
    }
  });

  it('fires `deleted` on a <collab-editor>, whose editor.recreate() starts the document anew; document-actions hides the actions', async () => {
    const { httpUrl } = suite.server;
    const name = `e2e/element-${Date.now().toString(36)}`;
    const [admin, writer] = await Promise.all([token(name, 'rw', { admin: true }), token(name, 'rw')]);
    expect((await putMarkdown(httpUrl, name, 'Before', writer)).status).toBe(201);
    const context = await newContext(suite.browser);
    try {
      const page = await context.newPage();
      // A page of the server's origin (its API answers only those), holding two elements.
      await page.goto(`${httpUrl}/healthz`);
      await page.evaluate(
        async ({ document: name, admin, writer }) => {
          const script = Object.assign(document.createElement('script'), { src: '/assets/collab-editor.js' });
          const loaded = new Promise((resolve) => script.addEventListener('load', resolve));
          document.head.append(script);
          await loaded;
          const deletions: string[] = [];
          (window as unknown as { deletions: string[] }).deletions = deletions;
          for (const [id, token, actions] of [
            ['a', admin, null],
            ['b', writer, 'false'],
          ] as const) {
            const element = Object.assign(document.createElement('collab-editor'), { id });
            element.setAttribute('document', name);
            element.setAttribute('token', token);
            if (actions !== null) element.setAttribute('document-actions', actions);
            element.addEventListener('deleted', (event) => deletions.push(`${id}:${(event as CustomEvent<{ document: string }>).detail.document}`));
            document.body.append(element);
          }
        },
        { document: name, admin, writer },
      );
      const stateOf = (id: string) =>
        page.evaluate((which) => (document.getElementById(which) as unknown as { status: { state: string } | null }).status?.state, id);
      await page.waitForFunction(() =>
        ['a', 'b'].every((id) =>
          ['live', 'saved'].includes((document.getElementById(id) as unknown as { status: { state: string } | null }).status?.state ?? ''),
        ),
      );
      expect(await page.locator('#a [data-action=history]').count()).toBe(1);
      expect(await page.locator('#b [data-action=history]').count()).toBe(0);

      expect((await call(documentUrl(httpUrl, name), { method: 'DELETE', token: admin })).status).toBe(204);
      await page.waitForFunction(() => (window as unknown as { deletions: string[] }).deletions.length === 2);
      expect((await page.evaluate(() => (window as unknown as { deletions: string[] }).deletions)).sort()).toEqual([`a:${name}`, `b:${name}`]);
      expect(await stateOf('b')).toBe('deleted');
      await page.locator('#b .ce-deleted').waitFor();

      await page.evaluate(() => (document.getElementById('b') as unknown as { editor: { recreate(): void } }).editor.recreate());
      await page.waitForFunction(() => (document.getElementById('b') as unknown as { status: { state: string } }).status.state === 'saved');
      expect(await markdownOf(httpUrl, name, writer)).toBe('');
      expect(await stateOf('a')).toBe('deleted');
    } finally {
      await context.close();
    }
  });
});
