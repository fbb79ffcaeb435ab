/**
 * Limits on what a connection sends: its message rate (a token bucket; excess closes it with 1008)
 * and the size its document may grow to (an update past it is refused, nothing of it applied).
 */
import * as decoding from 'lib0/decoding';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeSyncStep2, encodeUpdate, MESSAGE_ERROR, MESSAGE_SAVED } from '../../protocol/index.js';
import { connectClient, connectRaw, type RawClient, type YClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

const servers: ServerProcess[] = [];
const clients: YClient[] = [];

async function serverWith(args: string[]): Promise<ServerProcess> {
  const server = await startServer({ args });
  servers.push(server);
  return server;
}

function client(server: ServerProcess, name: string, params?: Record<string, string>): YClient {
  const created = connectClient(server.wsUrl, name, { params });
  clients.push(created);
  return created;
}

afterEach(async () => {
  for (const created of clients.splice(0)) created.destroy();
  for (const server of servers.splice(0)) {
    await server.stop();
    await removeDir(server.dataDir);
  }
});

async function contentOf(server: ServerProcess, name: string): Promise<string> {
  const reader = client(server, name);
  await reader.synced;
  return reader.doc.getText('t').toString();
}

describe('message rate', () => {
  it('closes a connection that sends faster than its limit with 1008, and leaves the others be', async () => {
    const server = await serverWith(['--max-message-rate', '10']);
    const polite = client(server, 'rate');
    await polite.synced;
    const flooder = connectRaw(`${server.wsUrl}/rate`);
    await flooder.opened;
    // The bucket holds two seconds' worth: 20 messages pass at once, the 21st is one too many.
    for (let i = 0; i < 40; i++) flooder.socket.send(Uint8Array.of(3));
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'too many messages: the limit is 10 per second' });

    polite.doc.getText('t').insert(0, 'still here');
    expect(await contentOf(server, 'rate')).toBe('still here');
    expect(polite.provider.wsconnected).toBe(true);
    await expect.poll(() => server.logs.some((line) => line.includes('closed a connection: too many messages'))).toBe(true);
  });
});

describe('document size', () => {
  it('refuses an update that would grow a document past its limit, applying nothing of it', async () => {
    const server = await serverWith(['--max-document-size', '4KiB']);
    const writer = client(server, 'size');
    await writer.synced;
    // Many small updates first: the server's running estimate must not refuse what fits.
    for (let i = 0; i < 120; i++) writer.doc.getText('t').insert(writer.doc.getText('t').length, 'x'.repeat(20));
    const fitting = 'x'.repeat(2400);
    expect(await contentOf(server, 'size')).toBe(fitting);

    const raw = connectRaw(`${server.wsUrl}/size?ack=1`);
    await raw.opened;
    const big = new Y.Doc();
    big.getText('t').insert(0, 'y'.repeat(3000));
    raw.socket.send(encodeUpdate(Y.encodeStateAsUpdate(big)));
    const reason = 'the document would grow past its size limit of 4096 bytes';
    expect(await raw.closed).toEqual({ code: 1009, reason });
    const error = decoding.createDecoder((await raw.nextFrame(MESSAGE_ERROR)) as Uint8Array);
    decoding.readVarUint(error);
    expect(decoding.readVarString(error)).toBe('document-too-large');
    expect(await contentOf(server, 'size')).toBe(fitting);

    // Resending what the server has (as a reconnecting client does) passes however large it is,
    // and small edits still fit.
    const resync = connectRaw(`${server.wsUrl}/size`);
    await resync.opened;
    const state = Y.encodeStateAsUpdate(writer.doc);
    expect(state.length).toBeGreaterThan(2048);
    resync.socket.send(encodeSyncStep2(state));
    resync.socket.send(Uint8Array.of(3));
    await resync.nextFrame(1);
    expect(resync.socket.readyState).toBe(resync.socket.OPEN);
    resync.socket.close();
    writer.doc.getText('t').insert(0, 'fits');
    await expect.poll(() => contentOf(server, 'size')).toBe(`fits${fitting}`);
    expect(writer.provider.wsconnected).toBe(true);
  });

  it('takes deletions from a document at its limit, so it can be made smaller', async () => {
    const server = await serverWith(['--max-document-size', '4KiB']);
    const writer = client(server, 'full');
    await writer.synced;
    for (let i = 0; i < 200; i++) writer.doc.getText('t').insert(writer.doc.getText('t').length, 'x'.repeat(20));
    await expect.poll(() => contentOf(server, 'full')).toHaveLength(4000);
    expect(Y.encodeStateAsUpdate(writer.doc).length).toBeGreaterThan(4000);
    const raw = connectRaw(`${server.wsUrl}/full?ack=1`);
    await raw.opened;
    // Another client, at the limit, deletes every other run of 20: an update of deletions only
    // (100 ranges, hundreds of bytes), which would not fit if its bytes were counted as growth.
    const editor = new Y.Doc();
    Y.applyUpdate(editor, Y.encodeStateAsUpdate(writer.doc));
    const before = Y.encodeStateVector(editor);
    editor.transact(() => {
      for (let run = 198; run >= 0; run -= 2) editor.getText('t').delete(run * 20, 20);
    });
    const deletions = Y.encodeStateAsUpdate(editor, before);
    expect(deletions.length).toBeGreaterThan(4096 - Y.encodeStateAsUpdate(writer.doc).length);
    raw.socket.send(encodeUpdate(deletions));
    const saved = decoding.createDecoder(await raw.nextFrame(MESSAGE_SAVED));
    decoding.readVarUint(saved);
    expect(decoding.readVarUint(saved)).toBe(1);
    expect(await contentOf(server, 'full')).toHaveLength(2000);
    expect(raw.socket.readyState).toBe(raw.socket.OPEN);
    raw.socket.close();
  });

  it('refuses a client whose first sync would push the document past the limit', async () => {
    const server = await serverWith(['--max-document-size', '2KiB']);
    const offline = new Y.Doc();
    offline.getText('t').insert(0, 'z'.repeat(4000));
    const raw: RawClient = connectRaw(`${server.wsUrl}/offline`);
    await raw.opened;
    raw.socket.send(encodeUpdate(Y.encodeStateAsUpdate(offline)));
    expect((await raw.closed).code).toBe(1009);
    expect(await contentOf(server, 'offline')).toBe('');
  });
});
