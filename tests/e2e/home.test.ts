/**
 * The home page's "open a document" box, on a server with a longer name limit than the default:
 * a name the server accepts opens that very document, never a shortened one.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserAndServerForSuite, describeInBrowser, newContext } from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';

const cleanup = cleanupAfterEach();
const LIMIT = 300;

describeInBrowser('the home page on a server with --max-name-length 300', () => {
  const suite = browserAndServerForSuite({ args: ['--max-name-length', String(LIMIT)] });

  /** Opens the home page, types `name` into the box (which must keep all of it) and submits it. */
  async function submitName(name: string): Promise<Page> {
    const context = await newContext(suite.browser);
    cleanup.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`${suite.server.httpUrl}/`);
    await page.locator('#open-name').fill(name);
    expect(await page.locator('#open-name').inputValue()).toBe(name);
    await page.locator('#open-form button[type=submit]').click();
    return page;
  }

  it('opens a name as long as the server allows, whole', async () => {
    const name = `${'a'.repeat(250)}/${'b'.repeat(49)}`;
    expect(name).toHaveLength(LIMIT);
    const page = await submitName(name);
    await page.waitForURL(/\/d\//);
    const opened = new URL(page.url()).pathname.slice('/d/'.length).split('/').map(decodeURIComponent).join('/');
    expect(opened).toBe(name);
    await page.locator('.ProseMirror').waitFor();
    expect(await page.locator('.page-header h1').textContent()).toBe(name);
  });

  it('says a longer name is too long, rather than opening part of it', async () => {
    const page = await submitName('c'.repeat(LIMIT + 1));
    // Told on the home page (when the page knows the server's limit) or by the server's refusal.
    await page.waitForFunction((limit) => document.body.textContent?.includes(`${limit} characters`) === true, LIMIT);
    expect(await page.locator('.ProseMirror').count()).toBe(0);
  });
});
