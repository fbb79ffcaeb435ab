/**
 * Inputs the fuzzer taught us about, kept as plain tests.
 *
 * An update can decode cleanly and still fail halfway through integration (here: an item whose
 * origin the mutation pointed elsewhere). Yjs ends the transaction anyway and reports what it did
 * integrate as an update; that partial update must not be stored, or it would come back on reload.
 *
 * An update can also integrate without complaint and still be wrong: an item whose origins lie the
 * wrong way round lands wherever the current split of the list puts it, so clients that load the
 * document later see it elsewhere than the clients that were live. The server refuses it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeUpdate } from '../../protocol/index.js';
import { connectClient, connectRaw } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { seedDocument } from './frames.js';

/** A text "the quick brown fox", a map { k: "v" } and an array [1, 2, 3], by client 1. */
const SEED = Buffer.from('01030100040101741374686520717569636b2062726f776e20666f782801016d016b0177017608010161037d017d027d0300', 'hex');
/** An edit of the seed by client 2, with two bytes mutated: it decodes, and integration throws after a first part. */
const BREAKING = Buffer.from('01030200c401020103036162352801016d017801760101617d01c801140215017701710101010504', 'hex');
/** One character by client 2 whose origin (1:40) lies right of its right origin (1:16) in the fuzz seed's text. */
const MISPLACED = Buffer.from('01010200c401280110012e00', 'hex');

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

async function stored(name: string): Promise<Y.Doc> {
  const reader = connectClient(server.wsUrl, name);
  await reader.synced;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(reader.doc));
  reader.destroy();
  return doc;
}

it('stores nothing of an update that fails halfway through integration', async () => {
  // The premise: applied to the seed alone, the update throws after a partial update was emitted.
  const local = new Y.Doc();
  Y.applyUpdate(local, SEED);
  let partial = false;
  local.on('update', () => (partial = true));
  expect(() => Y.applyUpdate(local, BREAKING)).toThrow();
  expect(partial).toBe(true);

  const raw = connectRaw(`${server.wsUrl}/half-applied`);
  await raw.opened;
  raw.socket.send(encodeUpdate(SEED));
  raw.socket.send(encodeUpdate(BREAKING));
  expect(await raw.closed).toEqual({ code: 1007, reason: 'an update broke the document; reconnect to resync' });

  const seedDoc = new Y.Doc();
  Y.applyUpdate(seedDoc, SEED);
  const same = (doc: Y.Doc) => Y.equalSnapshots(Y.snapshot(doc), Y.snapshot(seedDoc)) && doc.getText('t').toString() === 'the quick brown fox';
  // The room was dropped and reloads from the store: the seed, and nothing of the broken update.
  expect(same(await stored('half-applied'))).toBe(true);
  expect(await server.stop()).toBe(0);
  server = await startServer({ dataDir: server.dataDir });
  expect(same(await stored('half-applied'))).toBe(true);
});

it('refuses an item that does not lie between its origins, and keeps the document as it was', async () => {
  const raw = connectRaw(`${server.wsUrl}/misplaced`);
  await raw.opened;
  raw.socket.send(encodeUpdate(Y.encodeStateAsUpdate(seedDocument())));
  raw.socket.send(encodeUpdate(MISPLACED));
  expect(await raw.closed).toEqual({ code: 1007, reason: 'an update broke the document; reconnect to resync' });
  const doc = await stored('misplaced');
  expect(doc.getText('t').toString()).toBe('the quick brown fox jumps over the lazy dog');
  expect(doc.store.clients.has(2)).toBe(false);
});
