/**
 * A page that is not there: a browser gets an HTML page with a link to the document list; an API
 * client keeps its JSON error, also when it asks for HTML under /api/.
 */
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

it('answers a browser with a page linking home, and an API client with JSON', async () => {
  const server = await startTestServer(cleanup);
  const browser = await fetch(`${server.httpUrl}/no/such/page`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  expect(browser.status).toBe(404);
  expect(browser.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const page = await browser.text();
  expect(page).toContain('There is no page here.');
  expect(page).toContain('<a href="/">All documents</a>');

  const client = await fetch(`${server.httpUrl}/no/such/page`);
  expect(client.status).toBe(404);
  expect(await client.json()).toEqual({ error: 'not-found', message: 'nothing at /no/such/page' });
  const api = await fetch(`${server.httpUrl}/api/nothing`, { headers: { accept: 'text/html' } });
  expect(api.headers.get('content-type')).toContain('application/json');
});
