/**
 * A document's content over HTTP: `PUT` of Markdown, HTML or ProseMirror JSON as an ordinary CRDT
 * edit that connected clients see live, read back in every format (`?format=` or `Accept`), with
 * Markdown round-tripping for every node and mark of the schema. Content the schema cannot hold is
 * refused with what was wrong, and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { schema } from '../../protocol/document/schema.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { startTestServer } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { call, documentUrl, markdownOf, putMarkdown } from './api.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

/** Every node and mark of the schema, in the form the server writes Markdown (lists loose: the schema has no tight lists). */
const EVERY_NODE_AND_MARK = `# Heading 1

## Heading 2

### Heading 3

#### Heading 4

##### Heading 5

###### Heading 6

A paragraph with *emphasis*, **strong**, \`code\`, a [link](https://example.com/a?b=1&c=2 "Title") and an ![image](https://example.com/a.png "Alt title").\\
After a hard break.

> A quote
>
> > nested

\`\`\`
code block
  indented
\`\`\`

---

* one

* two

  * nested

3. three

4. four`;

function put(httpUrl: string, name: string, body: string, type: string) {
  return call(documentUrl(httpUrl, name), { method: 'PUT', body, headers: { 'content-type': type } });
}

/** The node and mark types a ProseMirror JSON document uses. */
function typesIn(json: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(json)) for (const item of json) typesIn(item, found);
  else if (typeof json === 'object' && json !== null) {
    const record = json as Record<string, unknown>;
    if (typeof record['type'] === 'string') found.add(record['type']);
    for (const value of Object.values(record)) typesIn(value, found);
  }
  return found;
}

describe('document content over HTTP', () => {
  it('round-trips Markdown holding every node and mark, live for connected clients, and serves every format', async () => {
    const server = await startTestServer(cleanup);
    const reader = track(connectClient(server.wsUrl, 'team/spec'));
    await reader.synced;
    const created = await putMarkdown(server.httpUrl, 'team/spec', EVERY_NODE_AND_MARK);
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ name: 'team/spec', created: true, changed: true });
    expect(await markdownOf(server.httpUrl, 'team/spec')).toBe(EVERY_NODE_AND_MARK);
    await waitForDoc(reader.doc, () => reader.doc.getXmlFragment('prosemirror').length > 10, 'the content reached the client');

    const json = await call(documentUrl(server.httpUrl, 'team/spec', '?format=json'));
    expect(json.headers.get('content-type')).toContain('application/json');
    const used = typesIn(json.json.prosemirror);
    for (const type of [...Object.keys(schema.nodes), ...Object.keys(schema.marks)].filter((type) => type !== 'text')) expect(used, type).toContain(type);

    const html = await call(documentUrl(server.httpUrl, 'team/spec'), { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html.text).toContain('<h6>Heading 6</h6>');
    expect(html.text).toContain('<strong>strong</strong>');
    const text = await call(documentUrl(server.httpUrl, 'team/spec'), { headers: { accept: 'text/plain' } });
    expect(text.text.split('\n\n').slice(0, 2)).toEqual(['Heading 1', 'Heading 2']);
    expect((await call(documentUrl(server.httpUrl, 'team/spec'), { headers: { accept: 'image/png' } })).status).toBe(406);
    expect((await call(documentUrl(server.httpUrl, 'team/spec', '?format=pdf'))).json.error).toBe('invalid-format');

    // The same content as HTML and as the JSON export, into other documents: the same Markdown out.
    expect((await put(server.httpUrl, 'from-html', html.text, 'text/html')).status).toBe(201);
    expect(await markdownOf(server.httpUrl, 'from-html')).toBe(EVERY_NODE_AND_MARK);
    expect((await put(server.httpUrl, 'from-json', json.text, 'application/json')).status).toBe(201);
    expect(await markdownOf(server.httpUrl, 'from-json')).toBe(EVERY_NODE_AND_MARK);
  });

  it('replaces content as an edit: unchanged paragraphs keep their items, and an identical PUT changes nothing', async () => {
    const server = await startTestServer(cleanup);
    expect((await putMarkdown(server.httpUrl, 'doc', 'First.\n\nSecond.\n\nThird.')).status).toBe(201);
    const reader = track(connectClient(server.wsUrl, 'doc'));
    await reader.synced;
    const first = reader.doc.getXmlFragment('prosemirror').get(0) as Y.XmlElement;
    const replaced = await putMarkdown(server.httpUrl, 'doc', 'First.\n\nSecond, changed.\n\nThird.');
    expect(replaced.json).toMatchObject({ created: false, changed: true });
    await waitForDoc(reader.doc, () => reader.doc.getXmlFragment('prosemirror').toString().includes('Second, changed.'), 'the edit');
    expect(reader.doc.getXmlFragment('prosemirror').get(0)).toBe(first);
    expect((await putMarkdown(server.httpUrl, 'doc', 'First.\n\nSecond, changed.\n\nThird.')).json).toMatchObject({ changed: false });

    // What a PUT replaced is kept as a version first: restoring it undoes the PUT.
    const [before] = (await call(documentUrl(server.httpUrl, 'doc', '/versions'))).json.versions as { id: string; label: string }[];
    expect(before!.label).toBe('Before the content was replaced');
    expect((await call(documentUrl(server.httpUrl, 'doc', `/versions/${before!.id}/restore`), { method: 'POST' })).status).toBe(200);
    expect(await markdownOf(server.httpUrl, 'doc')).toBe('First.\n\nSecond.\n\nThird.');
  });

  it('refuses content the schema cannot hold, saying what was wrong, and changes nothing', async () => {
    const server = await startTestServer(cleanup, { args: ['--max-message-size', '64KiB'] });
    expect((await putMarkdown(server.httpUrl, 'doc', 'Kept as it is.')).status).toBe(201);
    const reader = track(connectClient(server.wsUrl, 'doc'));
    await reader.synced;
    let changes = 0;
    reader.doc.on('update', () => changes++);
    const deep = `${'> '.repeat(10_000)}deep`;
    const cases: Array<[string, string, number, string, RegExp]> = [
      ['| a | b |\n|---|---|\n| 1 | 2 |', 'text/markdown', 400, 'unsupported-content', /table/i],
      ['~~struck~~', 'text/markdown', 400, 'unsupported-content', /strikethrough|s\b/i],
      ['<div>raw html</div>\n\ntext', 'text/markdown', 400, 'unsupported-content', /html/i],
      ['[click](javascript:alert(1))', 'text/markdown', 400, 'unsafe-link', /javascript/i],
      [deep, 'text/markdown', 400, 'too-deep', /deep|nest/i],
      ['<p>fine</p><table><tr><td>x</td></tr></table>', 'text/html', 400, 'unsupported-content', /table/i],
      ['<script>alert(1)</script><p>x</p>', 'text/html', 400, 'unsupported-content', /script/i],
      ['{"type":"doc","content":[{"type":"table"}]}', 'application/json', 400, 'invalid-document', /table/i],
      ['{"type":"doc","content":[', 'application/json', 400, 'invalid-json', /JSON/],
      ['plain text', 'text/plain', 415, 'unsupported-media-type', /markdown/],
      ['x'.repeat(65 * 1024), 'text/markdown', 413, 'body-too-large', /bytes/],
    ];
    for (const [body, type, status, error, message] of cases) {
      const refused = await put(server.httpUrl, 'doc', body, type);
      expect(refused.status, `${type}: ${body.slice(0, 40)}`).toBe(status);
      expect(refused.json.error, `${type}: ${body.slice(0, 40)}`).toBe(error);
      expect(refused.json.message).toMatch(message);
    }
    const notUtf8 = await call(documentUrl(server.httpUrl, 'doc'), {
      method: 'PUT',
      body: Buffer.from([0x23, 0x20, 0xff, 0xfe]),
      headers: { 'content-type': 'text/markdown' },
    });
    expect(notUtf8.json.error).toBe('invalid-text');
    expect(await markdownOf(server.httpUrl, 'doc')).toBe('Kept as it is.');
    expect(changes).toBe(0);
  });
});

describe('GET /api/documents', () => {
  it('lists by prefix, in stable pages, and only what the token covers', async () => {
    const server = await startTestServer(cleanup);
    for (const name of ['team/a', 'team/b', 'team/c', 'teams', 'other']) expect((await putMarkdown(server.httpUrl, name, name)).status).toBe(201);
    const list = async (query: string) =>
      (await call(`${server.httpUrl}/api/documents${query}`)).json as { documents: { name: string }[]; next: string | null };
    const first = await list('?prefix=team/&limit=2');
    expect(first.documents.map((document) => document.name)).toEqual(['team/a', 'team/b']);
    const second = await list(`?prefix=team/&limit=2&cursor=${first.next}`);
    expect(second.documents.map((document) => document.name)).toEqual(['team/c']);
    expect(second.next).toBeNull();
    expect((await list('')).documents.map((document) => document.name)).toEqual(['other', 'team/a', 'team/b', 'team/c', 'teams']);
    expect((await call(`${server.httpUrl}/api/documents?limit=0`)).json.error).toBe('invalid-limit');
    expect((await call(`${server.httpUrl}/api/documents?cursor=%%%`)).json.error).toBe('invalid-cursor');
  });

  it('pages through what a prefix token covers, never past it', async () => {
    const server = await startTestServer(cleanup, { args: authArgs });
    const writer = await token('*', 'rw');
    for (const name of ['team/a', 'team/b', 'teams', 'other']) expect((await putMarkdown(server.httpUrl, name, name, writer)).status).toBe(201);
    const team = await token('team/*', 'ro');
    const list = async (query: string) =>
      ((await call(`${server.httpUrl}/api/documents${query}`, { token: team })).json.documents as { name: string }[]).map((document) => document.name);
    expect(await list('?limit=1')).toEqual(['team/a']);
    expect(await list('')).toEqual(['team/a', 'team/b']);
    expect(await list('?prefix=t')).toEqual(['team/a', 'team/b']);
    expect(await list('?prefix=other')).toEqual([]);
    expect(await list('?prefix=team/b')).toEqual(['team/b']);
  });
});
