/**
 * What a room stores and relays of a client's update: the update's own bytes when all of it is new,
 * only what is new when it overlaps the document, nothing when it changes nothing; a part that waits
 * for a missing dependency only once the dependency comes, and acknowledged only then. Real server
 * process, raw clients that send exactly the bytes under test.
 */
import * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeSaved, encodeUpdate, MESSAGE_SAVED, MESSAGE_SYNC, SYNC_UPDATE } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, connectRaw, type RawClient, typist, waitForDoc } from '../helpers/clients.js';
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

  it('keeps an update that waits for a missing dependency from other clients until the dependency comes, then relays it to all', async () => {
    const { first, restart } = await killable();
    const type = typist();
    const dependency = type('a');
    const dependent = type('b'); // its origin is the 'a' the server has not seen
    const sender = await raw(first, 'pending');
    const reader = await raw(first, 'pending');
    sender.socket.send(encodeUpdate(dependent));
    // Not relayed: the next update the reader gets is one sent after it.
    const other = new Y.Doc();
    other.getText('x').insert(0, 'independent');
    const independent = Y.encodeStateAsUpdate(other);
    sender.socket.send(encodeUpdate(independent));
    expect(await nextUpdate(reader)).toEqual(independent);
    // Nor given to a client that joins meanwhile.
    const newcomer = connectClient(first.wsUrl, 'pending');
    cleanup.push(() => newcomer.destroy());
    await newcomer.synced;
    expect(newcomer.doc.getText('x').toString()).toBe('independent');
    expect(newcomer.doc.store.pendingStructs).toBeNull();

    // The dependency comes from another client: both keystrokes reach everyone, that client too.
    const late = await raw(first, 'pending');
    late.socket.send(encodeUpdate(dependency));
    const lateCopy = new Y.Doc();
    lateCopy.on('update', () => undefined);
    Y.applyUpdate(lateCopy, dependency);
    Y.applyUpdate(lateCopy, await nextUpdate(late));
    expect(lateCopy.getText('t').toString()).toBe('ab');
    await waitForDoc(newcomer.doc, () => newcomer.doc.getText('t').toString() === 'ab', 'both keystrokes relayed');

    const second = await restart();
    await newcomerSees(second, 'pending', 'ab', 'both keystrokes after kill -9');
  });

  it('acknowledges an update that waits, and every message after it, only once the dependency comes and all is stored', async () => {
    const { first, restart } = await killable();
    const type = typist();
    const dependency = type('a');
    const waiting = [type('b'), type('c'), type('d')]; // each waits for 'a', the later ones behind the first
    const sender = connectRaw(`${first.wsUrl}/queued?ack=1`);
    cleanup.push(() => sender.socket.close());
    await sender.opened;
    const reader = await raw(first, 'queued');
    for (const update of waiting) sender.socket.send(encodeUpdate(update));
    // A fourth message that needs nothing: stored and relayed at once, but "saved" counts in order.
    const other = new Y.Doc();
    other.getText('x').insert(0, 'independent');
    const independent = Y.encodeStateAsUpdate(other);
    sender.socket.send(encodeUpdate(independent));
    expect(await nextUpdate(reader)).toEqual(independent);

    const late = await raw(first, 'queued');
    late.socket.send(encodeUpdate(dependency));
    // The first "saved" the sender gets covers all four: none of the waiting ones was called saved before.
    const saved = decoding.createDecoder(await sender.nextFrame(MESSAGE_SAVED));
    decoding.readVarUint(saved);
    const { count, stateVector } = decodeSaved(saved);
    expect(count).toBe(4);
    expect(stateVector.get(Y.decodeUpdate(dependency).structs[0]!.id.client)).toBe(4);

    const second = await restart();
    await newcomerSees(second, 'queued', 'abcd', 'all four keystrokes after kill -9');
  });

  it('acknowledges deletions that wait for their items once the items come, and keeps them through kill -9', async () => {
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
    const deleter = connectRaw(`${first.wsUrl}/deletions?ack=1`);
    cleanup.push(() => deleter.socket.close());
    await deleter.opened;
    for (const update of deletions) deleter.socket.send(encodeUpdate(update));
    await sendUntilSaved(first, 'deletions', typed);
    // Each "saved" covers the characters its deletions need: the n-th deletion, the n-th character.
    const typistClient = Y.decodeUpdate(typed[0]!).structs[0]!.id.client;
    for (let count = 0; count < 2; ) {
      const saved = decoding.createDecoder(await deleter.nextFrame(MESSAGE_SAVED));
      decoding.readVarUint(saved);
      const acknowledged = decodeSaved(saved);
      count = acknowledged.count;
      expect(acknowledged.stateVector.get(typistClient) ?? 0).toBeGreaterThanOrEqual(count);
    }

    const second = await restart();
    const newcomer = connectClient(second.wsUrl, 'deletions');
    cleanup.push(() => newcomer.destroy());
    await newcomer.synced;
    // Both characters arrived, and both deletions apply to them.
    expect(Y.encodeStateVector(newcomer.doc)).toEqual(Y.encodeStateVector(author));
    expect(newcomer.doc.getText('t').toString()).toBe('');
  });

  it("does not let an item forged to wait for an author's next keystroke block that keystroke", async () => {
    const { first, restart } = await killable();
    const author = connectClient(first.wsUrl, 'forged');
    cleanup.push(() => author.destroy());
    await author.synced;
    author.doc.getText('t').insert(0, 'hello');
    // The forger writes the author's next item (the author's client id, its next clock) at the
    // start of the text, and its own item right after it: origin that next item, right origin 'h'.
    const forger = new Y.Doc();
    Y.applyUpdate(forger, Y.encodeStateAsUpdate(author.doc));
    forger.clientID = author.doc.clientID;
    forger.getText('t').insert(0, 'Z');
    forger.clientID = 666;
    let forged: Uint8Array | null = null;
    forger.on('update', (update: Uint8Array) => (forged = update));
    forger.getText('t').insert(1, 'X');
    const attacker = await raw(first, 'forged');
    // It waits for the author's next item, which the server has not seen.
    attacker.socket.send(encodeUpdate(forged!));
    const reader = await raw(first, 'forged');
    const observer = connectClient(first.wsUrl, 'forged');
    cleanup.push(() => observer.destroy());
    let observerClosed = 0;
    observer.provider.on('connection-close', () => observerClosed++);
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'hello', "the author's text");

    // The author's next keystroke lands at the end: the forged item, between 'Z' and 'h', is now
    // between the end of the text and its start. That keystroke fails the room once: the author's
    // client is closed and resends it on reconnecting, and the room, reloaded, no longer holds the
    // forged item. The others stay connected through the reload.
    author.doc.getText('t').insert(5, '!');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'hello!', 'the keystroke after the forged item');
    author.doc.getText('t').insert(6, ' world');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'hello! world', 'the author typing on');
    expect(author.doc.getText('t').toString()).toBe('hello! world');
    expect(observerClosed).toBe(0);
    expect(reader.socket.readyState).toBe(reader.socket.OPEN);

    const second = await restart();
    await newcomerSees(second, 'forged', 'hello! world', "the author's text after kill -9");
  });
});
