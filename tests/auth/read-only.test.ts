/**
 * A read-only token: the client gets the document, its live updates and everyone's presence, and
 * may share its own, but nothing it sends changes the document: not applied, not stored, not
 * broadcast, and it is told so. Hand-crafted frames fare no better than the official client.
 */
import * as decoding from 'lib0/decoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeSyncStep1, encodeSyncStep2, encodeUpdate, MESSAGE_AUTH, MESSAGE_ERROR } from '../../protocol/index.js';
import { connectClient, connectRaw, waitForDoc, type RawClient, type YClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, token, withQuery } from '../helpers/tokens.js';

const DOC = 'ro/target';
let server: ServerProcess;
let writer: YClient;

beforeAll(async () => {
  server = await startServer({ args: authArgs });
  writer = connectClient(server.wsUrl, DOC, { params: { token: await token(DOC, 'rw') } });
  await writer.synced;
  writer.doc.getText('t').insert(0, 'original content');
});

afterAll(async () => {
  writer.destroy(); // again, if the last test did: harmless
  await server.stop();
  await removeDir(server.dataDir);
});

/** The document as a newcomer (with a read-only token) gets it. */
async function serverState(target = server): Promise<Y.Doc> {
  const reader = connectClient(target.wsUrl, DOC, { params: { token: await token(DOC, 'ro') } });
  await reader.synced;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(reader.doc));
  reader.destroy();
  return doc;
}

function expectSame(actual: Y.Doc, expected: Y.Doc): void {
  expect(actual.getText('t').toString()).toBe(expected.getText('t').toString());
  expect(Y.encodeStateVector(actual)).toEqual(Y.encodeStateVector(expected));
  expect(Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected))).toBe(true);
}

/**
 * Sends `frame`, then a sync step 1, and resolves with the refusals (auth and error messages) the
 * server sent before its answer to the step 1: it handles one connection's messages in order.
 */
function refusals(raw: RawClient, frame: Uint8Array): Promise<Array<{ type: number; code: string }>> {
  return new Promise((resolve) => {
    const seen: Array<{ type: number; code: string }> = [];
    const onMessage = (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      const type = decoding.readVarUint(decoder);
      if (type === 0 && decoding.readVarUint(decoder) === 1) {
        raw.socket.off('message', onMessage);
        resolve(seen);
      } else if (type === MESSAGE_AUTH) {
        seen.push({ type, code: decoding.readVarUint(decoder) === 0 ? 'permission-denied' : 'other' });
      } else if (type === MESSAGE_ERROR) {
        seen.push({ type, code: decoding.readVarString(decoder) });
      }
    };
    raw.socket.on('message', onMessage);
    raw.socket.send(frame);
    raw.socket.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
  });
}

describe('read-only connections', () => {
  it('receive the document and its live updates, and share presence both ways', async () => {
    const reader = connectClient(server.wsUrl, DOC, { params: { token: await token(DOC, 'ro') } });
    await reader.synced;
    expect(reader.doc.getText('t').toString()).toContain('original content');
    writer.doc.getText('live').insert(0, 'typed after the reader came');
    await waitForDoc(reader.doc, () => reader.doc.getText('live').length > 0, 'a live update');
    reader.provider.awareness.setLocalStateField('user', { name: 'Reader' });
    writer.provider.awareness.setLocalStateField('user', { name: 'Writer' });
    const seen = (client: YClient, name: string) => () =>
      [...client.provider.awareness.getStates().values()].some((state) => (state['user'] as { name?: string } | undefined)?.name === name);
    await expect.poll(seen(writer, 'Reader')).toBe(true);
    await expect.poll(seen(reader, 'Writer')).toBe(true);
    reader.destroy();
  });

  it("refuse the official client's edits, tell it, and neither store nor broadcast them", async () => {
    const before = await serverState();
    const reader = connectClient(server.wsUrl, DOC, { params: { token: await token(DOC, 'ro') } });
    const denied = new Promise<string>((resolve) => {
      reader.provider.messageHandlers[MESSAGE_AUTH] = (_encoder, decoder: decoding.Decoder) => {
        decoding.readVarUint(decoder);
        resolve(decoding.readVarString(decoder));
      };
    });
    await reader.synced;
    reader.doc.getText('t').insert(0, 'EDITED BY A READER ');
    expect(await denied).toBe('this connection is read-only: the update was not applied');
    expect(reader.provider.wsconnected).toBe(true);
    // The writer's next edit arrives after anything the reader's could have caused.
    writer.doc.getText('marker').insert(0, 'm1');
    const after = await serverState();
    expect(after.getText('marker').toString()).toBe('m1');
    expect(after.getText('t').toString()).toBe(before.getText('t').toString());
    expect(writer.doc.getText('t').toString()).toBe(before.getText('t').toString());
    reader.destroy();
  });

  it('refuse hand-crafted updates of every kind, and let a redundant sync step 2 pass', async () => {
    const before = await serverState();
    const raw = connectRaw(withQuery(`${server.wsUrl}/${DOC}`, { token: await token(DOC, 'ro'), ack: '1' }));
    await raw.opened;

    // What the server has, resent: the reply a read-only client gives to our sync step 1.
    expect(await refusals(raw, encodeSyncStep2(Y.encodeStateAsUpdate(before)))).toEqual([]);

    const foreign = new Y.Doc();
    const foreignUpdates: Uint8Array[] = [];
    foreign.on('update', (update: Uint8Array) => foreignUpdates.push(update));
    foreign.getText('t').insert(0, 'injected');
    foreign.getText('t').insert(8, ' twice');
    const deleting = new Y.Doc();
    Y.applyUpdate(deleting, Y.encodeStateAsUpdate(before));
    const deletion = captureUpdate(deleting, () => deleting.getText('t').delete(0, 8));

    const attacks: Array<[string, Uint8Array]> = [
      ['an update with new content', encodeUpdate(foreignUpdates[0]!)],
      ['a sync step 2 with new content', encodeSyncStep2(Y.encodeStateAsUpdate(foreign))],
      ['an update that only deletes', encodeUpdate(deletion)],
      ['an update whose dependencies are missing (it would wait in the pending queue)', encodeUpdate(foreignUpdates[1]!)],
      ["the server's own state plus one new struct", encodeSyncStep2(Y.mergeUpdates([Y.encodeStateAsUpdate(before), foreignUpdates[0]!]))],
    ];
    for (const [what, frame] of attacks) {
      expect(await refusals(raw, frame), what).toEqual([
        { type: MESSAGE_AUTH, code: 'permission-denied' },
        { type: MESSAGE_ERROR, code: 'read-only' },
      ]);
    }
    expect(raw.socket.readyState).toBe(raw.socket.OPEN);
    raw.socket.close();

    expectSame(await serverState(), before);
    // Nothing was stored either: a restart on the same data shows the same document.
    writer.destroy();
    expect(await server.stop()).toBe(0);
    server = await startServer({ args: authArgs, dataDir: server.dataDir });
    expectSame(await serverState(), before);
  });
});

function captureUpdate(doc: Y.Doc, change: () => void): Uint8Array {
  let captured: Uint8Array | null = null;
  const listener = (update: Uint8Array) => (captured = update);
  doc.on('update', listener);
  change();
  doc.off('update', listener);
  if (captured === null) throw new Error('the change produced no update');
  return captured;
}
