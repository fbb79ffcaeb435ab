/**
 * Writing a document over HTTP: a Yjs update POSTed to `/api/documents/<name>/updates` takes the
 * WebSocket path (checks, limits, store, broadcast), is answered once stored with the state
 * vector, reaches connected clients live, and survives `kill -9`. Every bad update is refused with
 * a JSON error and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, forgedItem, waitForDoc } from '../helpers/clients.js';
import { startServer, startTestServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { call, documentUrl, postUpdate, storedDoc, textWriter } from './api.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

describe('POST /api/documents/<name>/updates', () => {
  it('applies an update, answered with the stored state vector, live for connected clients, and kept through kill -9', async () => {
    const server = await startTestServer(cleanup);
    const reader = track(connectClient(server.wsUrl, 'team/notes'));
    await reader.synced;
    const writer = textWriter();
    const response = await postUpdate(server.httpUrl, 'team/notes', writer.type('from a backend'));
    expect(response.status, `${response.text}\n${server.logs.join('\n')}`).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(Y.decodeStateVector(response.bytes)).toEqual(Y.decodeStateVector(Y.encodeStateVector(writer.doc)));
    await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'from a backend');

    const vector = await call(documentUrl(server.httpUrl, 'team/notes', '/state-vector'));
    expect(vector.status).toBe(200);
    expect(Y.decodeStateVector(vector.bytes)).toEqual(Y.decodeStateVector(response.bytes));

    // Answered means stored: a kill right after loses nothing.
    expect((await postUpdate(server.httpUrl, 'team/notes', writer.type(', and more'))).status).toBe(200);
    reader.destroy();
    await server.kill();
    const restarted = await startTestServer(cleanup, { dataDir: server.dataDir });
    expect((await storedDoc(restarted.httpUrl, 'team/notes')).getText('t').toString()).toBe('from a backend, and more');
  });

  it('refuses a malformed update, one past the size limits, and one that needs edits the document lacks, changing nothing', async () => {
    const server = await startTestServer(cleanup, { args: ['--max-message-size', '64KiB', '--max-document-size', '100KiB'] });
    const writer = textWriter();
    expect((await postUpdate(server.httpUrl, 'doc', writer.type('kept'))).status).toBe(200);
    const reader = track(connectClient(server.wsUrl, 'doc'));
    await reader.synced;
    let changes = 0;
    reader.doc.on('update', () => changes++);

    const malformed = await postUpdate(server.httpUrl, 'doc', Uint8Array.of(1, 2, 3, 4, 5));
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toBe('invalid-update');

    const oversized = await postUpdate(server.httpUrl, 'doc', new Uint8Array(65 * 1024));
    expect(oversized.status).toBe(413);
    expect(oversized.json.error).toBe('body-too-large');

    const big = textWriter();
    big.type('x'.repeat(60 * 1024));
    const first = Y.encodeStateAsUpdate(big.doc);
    expect((await postUpdate(server.httpUrl, 'doc', first)).status).toBe(200);
    const tooLarge = await postUpdate(server.httpUrl, 'doc', big.type('y'.repeat(60 * 1024)));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error).toBe('document-too-large');

    // An update on top of edits the server never received would wait forever: refused whole.
    const other = textWriter();
    other.type('never sent');
    const dependent = other.type(' depends on it');
    const missing = await postUpdate(server.httpUrl, 'doc', dependent);
    expect(missing.status).toBe(409);
    expect(missing.json.error).toBe('missing-dependencies');

    // Two writers' concurrent inserts at the start: in the order of their client ids.
    const stored = (await storedDoc(server.httpUrl, 'doc')).getText('t').toString();
    expect([`kept${'x'.repeat(60 * 1024)}`, `${'x'.repeat(60 * 1024)}kept`]).toContain(stored);
    // The reader saw the one accepted update, nothing of the refused ones.
    await waitForDoc(reader.doc, () => reader.doc.getText('t').length === 4 + 60 * 1024);
    expect(changes).toBe(1);
    expect(reader.provider.wsconnected).toBe(true);
  });

  it('refuses an update that breaks the document with 400, and reloads it for the clients', async () => {
    const server = await startTestServer(cleanup);
    const writer = textWriter();
    expect((await postUpdate(server.httpUrl, 'doc', writer.type('abc'))).status).toBe(200);
    const reader = track(connectClient(server.wsUrl, 'doc'));
    await reader.synced;
    // Its origin is "c" and its right origin "a", to the left of it: integrated by Yjs after "c", refused here.
    const client = writer.doc.clientID;
    const update = forgedItem(424242, Y.createID(client, 2), Y.createID(client, 0));
    const refused = await postUpdate(server.httpUrl, 'doc', update);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('invalid-update');
    expect((await storedDoc(server.httpUrl, 'doc')).getText('t').toString()).toBe('abc');
    expect(reader.provider.wsconnected).toBe(true);
  });

  it('needs a token that covers the document in rw to write, ro to read', async () => {
    const server = await startTestServer(cleanup, { args: authArgs });
    const writer = textWriter();
    const update = writer.type('x');
    expect((await postUpdate(server.httpUrl, 'doc', update)).status).toBe(401);
    expect((await postUpdate(server.httpUrl, 'doc', update, await token('doc', 'ro'))).status).toBe(403);
    expect((await postUpdate(server.httpUrl, 'doc', update, await token('other', 'rw'))).status).toBe(403);
    expect((await postUpdate(server.httpUrl, 'doc', update, await token('doc', 'rw'))).status).toBe(200);
    const read = await call(documentUrl(server.httpUrl, 'doc', '/state-vector'), { token: await token('doc', 'ro') });
    expect(read.status).toBe(200);
  });

  it('answers for documents that do not exist, bad names and unknown paths with JSON errors', async () => {
    const server: ServerProcess = await startServer();
    cleanup.push(() => server.stop());
    expect((await call(documentUrl(server.httpUrl, 'nothing'))).status).toBe(404);
    expect((await call(documentUrl(server.httpUrl, 'nothing', '/state-vector'))).json.error).toBe('no-document');
    expect((await call(`${server.httpUrl}/api/documents/no%20spaces`)).json.error).toBe('invalid-document-name');
    expect((await call(documentUrl(server.httpUrl, 'doc', '/elsewhere'))).status).toBe(404);
    const wrongMethod = await call(documentUrl(server.httpUrl, 'doc', '/updates'));
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});
