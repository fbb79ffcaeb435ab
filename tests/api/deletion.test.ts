/**
 * Deleting a document: only with an admin token; connected clients are closed with 4410; it stays
 * deleted through `kill -9` with its updates still in the journal, and an old client reconnecting
 * with its copy does not bring it back; only a deliberate creation does (`PUT`, or a client that
 * connects with `create=1`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';
import { startTestServer } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { call, documentUrl, markdownOf, postUpdate, putMarkdown, storedDoc, textWriter } from './api.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

/** Resolves with the code of the client's next close. */
function nextClose(client: YClient): Promise<number> {
  return new Promise((resolve) => client.provider.once('connection-close', (event: CloseEvent | null) => resolve(event?.code ?? 0)));
}

describe('DELETE /api/documents/<name>', () => {
  it('needs an admin token covering the document', async () => {
    const server = await startTestServer(cleanup, { args: authArgs });
    expect((await postUpdate(server.httpUrl, 'team/doc', textWriter().type('x'), await token('team/*', 'rw'))).status).toBe(200);
    const del = async (jwt?: string) => (await call(documentUrl(server.httpUrl, 'team/doc'), { method: 'DELETE', ...(jwt ? { token: jwt } : {}) })).status;
    expect(await del()).toBe(401);
    expect(await del(await token('team/*', 'rw'))).toBe(403);
    expect(await del(await token('other/*', 'rw', { admin: true }))).toBe(403);
    expect(await del(await token('team/*', 'rw', { admin: true }))).toBe(204);
    expect((await call(documentUrl(server.httpUrl, 'team/doc'), { token: await token('team/*', 'ro') })).status).toBe(410);
  });

  it('closes clients with 4410, stays deleted through kill -9, and an old client with its copy does not revive it', async () => {
    const server = await startTestServer(cleanup, { args: ['--compact-after', '100000'] });
    const editor = track(connectClient(server.wsUrl, 'gone'));
    await editor.synced;
    for (let i = 0; i < 20; i++) editor.doc.getText('t').insert(editor.doc.getText('t').length, `line ${i} `);
    const witness = track(connectClient(server.wsUrl, 'gone'));
    await waitForDoc(witness.doc, () => witness.doc.getText('t').toString().includes('line 19'));

    const closed = nextClose(editor);
    expect((await call(documentUrl(server.httpUrl, 'gone'), { method: 'DELETE' })).status).toBe(204);
    expect(await closed).toBe(4410);
    expect((await call(documentUrl(server.httpUrl, 'gone'))).status).toBe(410);
    expect((await call(`${server.httpUrl}/api/documents`)).json.documents).toEqual([]);

    // kill -9 right away: the updates are still in the journal, and replaying it must not undo the deletion.
    await server.kill();
    const journals = (await readdir(server.dataDir)).filter((file) => file.startsWith('collab-journal.'));
    const journaled = Buffer.concat(await Promise.all(journals.map((file) => readFile(join(server.dataDir, file)))));
    expect(journaled.includes('line 19')).toBe(true);
    const restarted = await startTestServer(cleanup, { dataDir: server.dataDir });
    expect((await call(documentUrl(restarted.httpUrl, 'gone'))).status).toBe(410);

    // The old client reconnects with its copy: refused with 4410 every time, nothing of it stored.
    const old = track(connectClient(restarted.wsUrl, 'gone', { doc: editor.doc, connect: false }));
    const refused = nextClose(old);
    old.provider.connect();
    expect(await refused).toBe(4410);
    expect((await call(documentUrl(restarted.httpUrl, 'gone'))).status).toBe(410);
    old.provider.disconnect();

    // A client that creates it anew (the editor does so with nothing of the old one) revives it.
    const fresh = track(connectClient(restarted.wsUrl, 'gone', { params: { create: '1', mode: 'rw' } }));
    await fresh.synced;
    expect(fresh.doc.getText('t').toString()).toBe('');
    fresh.doc.getText('t').insert(0, 'a new start');
    const reader = track(connectClient(restarted.wsUrl, 'gone', { params: { create: '1' } }));
    await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'a new start');
    expect((await storedDoc(restarted.httpUrl, 'gone')).getText('t').toString()).toBe('a new start');
  });

  it('refuses updates to a deleted document until a PUT creates it again', async () => {
    const server = await startTestServer(cleanup);
    expect((await putMarkdown(server.httpUrl, 'doc', '# Old\n')).status).toBe(201);
    expect((await call(documentUrl(server.httpUrl, 'doc'), { method: 'DELETE' })).status).toBe(204);
    const late = await postUpdate(server.httpUrl, 'doc', textWriter().type('late'));
    expect(late.status).toBe(410);
    expect(late.json.error).toBe('deleted');
    expect((await call(documentUrl(server.httpUrl, 'doc', '/versions'))).status).toBe(410);
    const created = await putMarkdown(server.httpUrl, 'doc', '# New\n');
    expect(created.status).toBe(201);
    expect(await markdownOf(server.httpUrl, 'doc')).toBe('# New');
    expect((await call(documentUrl(server.httpUrl, 'never'), { method: 'DELETE' })).status).toBe(404);
  });
});
