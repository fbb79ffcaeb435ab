#!/usr/bin/env node
/**
 * Serves the embed examples from their own origin, to show the editor working cross-origin.
 *
 *   node examples/embed/serve.mjs --server http://127.0.0.1:1234 --port 8080
 *
 * then open http://127.0.0.1:8080/ (script tag) or http://127.0.0.1:8080/module.html (ES module);
 * add `?document=<name>` to pick the document. `{{SERVER}}` and `{{DOCUMENT}}` in the pages are
 * filled in here; a real app would write its server's address into its own pages.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'http://127.0.0.1:1234' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const serverUrl = new URL(values.server).href.replace(/\/$/, '');
const pages = new Map([
  ['/', 'index.html'],
  ['/index.html', 'index.html'],
  ['/module.html', 'module.html'],
]);
const NAME = /^[\p{L}\p{N}\-_.~:@]+(?:\/[\p{L}\p{N}\-_.~:@]+)*$/u;
const escape = (text) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://example');
  const file = pages.get(url.pathname);
  if (file === undefined) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const requested = url.searchParams.get('document') ?? 'examples/embed';
  const document = NAME.test(requested) ? requested : 'examples/embed';
  const html = (await readFile(join(here, file), 'utf8')).replaceAll('{{SERVER}}', escape(serverUrl)).replaceAll('{{DOCUMENT}}', escape(document));
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).end(html);
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(`embed example at http://${values.host}:${port}/ using the editor server ${serverUrl}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
