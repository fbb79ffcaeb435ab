/**
 * What a room stores and relays of a client's update: the update's own bytes when all of it is new,
 * only what is new when it overlaps the document, nothing when it changes nothing, and an update
 * waiting for a missing dependency as durably as any other. Real server process, raw clients that
 * send exactly the bytes under test.
 */
import * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeSaved, encodeUpdate, MESSAGE_SAVED, MESSAGE_SYNC, SYNC_UPDATE } from '../../server/sync/protocol.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, connectRaw, waitForDoc, type RawClient } from '../helpers/clients.js';
import { removeDir, startServer, tempDataDir, type ServerProcess } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

async function server(dataDir: string, port?: number): Promise<ServerProcess> {
  const started = await startServer({ dataDir, port });
  cleanup.push(() => started.kill());
  return started;
}

async function raw(target: ServerProcess, doc: string): Promise<RawClient> {
  const client = connectRaw(`${target.wsUrl}/${doc}`);
  cleanup.push(() => client.socket.close());
  await client.opened;
  return client;
}

/** The payload of the next update message `client` receives. */
async function nextUpdate(client: RawClient): Promise<Uint8Array> {
  for (;;) {
    const decoder = decoding.createDecoder(await client.nextFrame(MESSAGE_SYNC));
    decoding.readVarUint(decoder);
    if (decoding.readVarUint(decoder) === SYNC_UPDATE) return decoding.readVarUint8Array(decoder);
  }
}

/** One writer's keystrokes: each call types `text` at the end, as one update. */
function typist(): (text: string) => Uint8Array {
  const doc = new Y.Doc();
  let last: Uint8Array = new Uint8Array(0);
  doc.on('update', (update: Uint8Array) => (last = update));
  return (text) => {
    doc.getText('t').insert(doc.getText('t').length, text);
    return last;
  };
}

/** Sends `updates` from a raw client that asked for acknowledgements; resolves once the server says all are stored. */
async function sendUntilSaved(target: ServerProcess, doc: string, updates: Uint8Array[]): Promise<void> {
  const client = connectRaw(`${target.wsUrl}/${doc}?ack=1`);
  cleanup.push(() => client.socket.close());
  await client.opened;
  for (const update of updates) client.socket.send(encodeUpdate(update));
  for (;;) {
    const saved = decoding.createDecoder(await client.nextFrame(MESSAGE_SAVED));
    decoding.readVarUint(saved);
    if (decodeSaved(saved).count === updates.length) return;
  }
}

/** A server on a fresh data directory, and `restart`: `kill -9` it, then start another on the same directory and port. */
async function killable(): Promise<{ first: ServerProcess; restart: () => Promise<ServerProcess> }> {
  const dataDir = await tempDataDir();
  cleanup.push(() => removeDir(dataDir));
  const first = await server(dataDir);
  const restart = async () => {
    await first.kill();
    return server(dataDir, first.port);
  };
  return { first, restart };
}

/** Resolves once a newcomer (the official provider) sees `text` in `doc`. */
async function newcomerSees(target: ServerProcess, doc: string, text: string, what: string): Promise<void> {
  const newcomer = connectClient(target.wsUrl, doc);
  cleanup.push(() => newcomer.destroy());
  await waitForDoc(newcomer.doc, () => newcomer.doc.getText('t').toString() === text, what);
}

describe('updates a room stores and relays', () => {
  it('relays a new update as it came, and a resent one not at all', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const target = await server(dataDir);
    const sender = await raw(target, 'resent');
    const reader = await raw(target, 'resent');
    const type = typist();
    const first = type('a');
    sender.socket.send(encodeUpdate(first));
    expect(await nextUpdate(reader)).toEqual(first);
    // Resent, it changes nothing: the next update the reader gets is the one after it.
    sender.socket.send(encodeUpdate(first));
    const second = type('b');
    sender.socket.send(encodeUpdate(second));
    expect(await nextUpdate(reader)).toEqual(second);
  });

  it('relays and stores only the new part of an update that overlaps the document', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const target = await server(dataDir);
    const sender = await raw(target, 'overlap');
    const reader = await raw(target, 'overlap');
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'known ');
    const known = Y.encodeStateAsUpdate(doc);
    sender.socket.send(encodeUpdate(known));
    await nextUpdate(reader);
    doc.getText('t').insert(6, 'and new');
    // The whole state again: what is known, and seven new characters.
    sender.socket.send(encodeUpdate(Y.encodeStateAsUpdate(doc)));
    const relayed = await nextUpdate(reader);
    const { from } = Y.parseUpdateMeta(relayed);
    expect(from.get(doc.clientID)).toBe(6);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, known);
    Y.applyUpdate(copy, relayed);
    expect(copy.getText('t').toString()).toBe('known and new');
  });

  it('keeps an update that waits for a missing dependency through kill -9, and completes it when the dependency comes', async () => {
    const { first, restart } = await killable();
    const type = typist();
    const dependency = type('a');
    const dependent = type('b'); // its origin is the 'a' the server has not seen
    const sender = await raw(first, 'pending');
    const reader = await raw(first, 'pending');
    sender.socket.send(encodeUpdate(dependent));
    // Relayed, so stored: a room relays nothing before it is stored.
    expect(await nextUpdate(reader)).toEqual(dependent);

    const second = await restart();
    const late = await raw(second, 'pending');
    late.socket.send(encodeUpdate(dependency));
    await newcomerSees(second, 'pending', 'ab', 'both keystrokes');
  });

  it('relays every update that waits behind another, and keeps it through kill -9 once acknowledged', async () => {
    const { first, restart } = await killable();
    const type = typist();
    const dependency = type('a');
    const waiting = [type('b'), type('c'), type('d')]; // each waits for 'a', the later ones behind the first
    const reader = await raw(first, 'queued');
    await sendUntilSaved(first, 'queued', waiting);
    // Relayed as they came, in order: the reader's Yjs keeps them until 'a' comes.
    for (const update of waiting) expect(await nextUpdate(reader)).toEqual(update);

    const second = await restart();
    const late = await raw(second, 'queued');
    late.socket.send(encodeUpdate(dependency));
    await newcomerSees(second, 'queued', 'abcd', 'all four keystrokes');
  });

  it('keeps deletions that wait behind another through kill -9, once it has acknowledged them', async () => {
    const { first, restart } = await killable();
    const type = typist();
    const typed = [type('a'), type('b')];
    // Two deletions of characters the server has not seen: each waits in the pending delete set.
    const author = new Y.Doc();
    for (const update of typed) Y.applyUpdate(author, update);
    const deletions: Uint8Array[] = [];
    author.on('update', (update: Uint8Array) => deletions.push(update));
    author.getText('t').delete(0, 1);
    author.getText('t').delete(0, 1);
    await sendUntilSaved(first, 'deletions', deletions);

    const second = await restart();
    await sendUntilSaved(second, 'deletions', typed);
    const newcomer = connectClient(second.wsUrl, 'deletions');
    cleanup.push(() => newcomer.destroy());
    await newcomer.synced;
    // Both characters arrived, and both deletions still apply to them.
    expect(Y.encodeStateVector(newcomer.doc)).toEqual(Y.encodeStateVector(author));
    expect(newcomer.doc.getText('t').toString()).toBe('');
  });
});
