/**
 * An update that breaks a document (here an item that does not lie between its origins) is refused
 * and the document reloads from the store: only its sender is closed. The other clients stay
 * connected through the reload, keep who is present, and their edits go on. Real server process,
 * official clients, and a raw socket for the forged update.
 */
import { expect, it } from 'vitest';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { encodeSyncStep1, encodeUpdate, MESSAGE_AWARENESS, MESSAGE_ERROR, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, SYNC_STEP_2 } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import {
  connectClient,
  connectRaw,
  forgedItem,
  type RawClient,
  seededRandom,
  testSeed,
  typist,
  waitForDoc,
  waitForDocs,
  waitForEvent,
  type YClient,
} from '../helpers/clients.js';
import { type ServerProcess, startServer, startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

/** Resolves once `client` knows the presence of each of `others`. */
function seesPresenceOf(client: YClient, others: YClient[], what: string): Promise<void> {
  const awareness = client.provider.awareness;
  return waitForEvent(awareness, 'change', () => others.every((other) => awareness.getStates().get(other.doc.clientID)?.user !== undefined), what, 10_000);
}

function server(args: string[] = []): Promise<ServerProcess> {
  return startTestServer(cleanup, { args });
}

it('closes only the sender of an update that breaks the document: the others stay, with their presence and their edits', async () => {
  let target = await server();
  const clients = ['Ada', 'Bob'].map((name) => {
    const client = connectClient(target.wsUrl, 'kept');
    client.provider.awareness.setLocalStateField('user', { name });
    cleanup.push(() => client.destroy());
    return client;
  });
  const [editor, reader] = clients as [YClient, YClient];
  let dropped = 0;
  for (const client of clients) client.provider.on('connection-close', () => dropped++);
  await Promise.all(clients.map((client) => client.synced));
  editor.doc.getText('t').insert(0, 'hello world');
  await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'hello world', 'the first edit');
  await Promise.all([seesPresenceOf(reader, [editor], "the editor's presence"), seesPresenceOf(editor, [reader], "the reader's presence")]);

  // Its origin is "r" and its right origin "l", to the left of it: it lands after "r", not before "l".
  const attacker = connectRaw(`${target.wsUrl}/kept`);
  cleanup.push(() => attacker.socket.close());
  await attacker.opened;
  const client = editor.doc.clientID;
  attacker.socket.send(encodeUpdate(forgedItem(777, Y.createID(client, 8), Y.createID(client, 2))));
  // Typed while the document reloads, or after: either way it goes on to everyone.
  editor.doc.getText('t').insert(11, ' again');
  expect(await attacker.closed).toEqual({ code: 1007, reason: 'an update broke the document; reconnect to resync' });
  await expect.poll(() => target.logs.some((line) => line.includes('the document reloads from the store for the others'))).toBe(true);

  await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'hello world again', 'the edit typed during the reload');
  reader.doc.getText('t').insert(0, '> ');
  await waitForDoc(editor.doc, () => editor.doc.getText('t').toString() === '> hello world again', "the reader's edit after the reload");
  expect(dropped).toBe(0);
  expect(editor.provider.wsconnected && reader.provider.wsconnected).toBe(true);

  // Who is present survived the reload: a newcomer is told of both at once.
  const newcomer = connectClient(target.wsUrl, 'kept');
  cleanup.push(() => newcomer.destroy());
  await seesPresenceOf(newcomer, [editor, reader], 'the presence of the two who stayed');

  // Nothing of the forged item was stored.
  await target.kill();
  target = await startServer({ dataDir: target.dataDir });
  cleanup.push(() => target.stop());
  const after = connectClient(target.wsUrl, 'kept');
  cleanup.push(() => after.destroy());
  await after.synced;
  expect(after.doc.getText('t').toString()).toBe('> hello world again');
  expect(after.doc.store.clients.has(777)).toBe(false);
});

it('closes, with the reason, a connection whose update waits for an edit the server has not received when the document reloads', async () => {
  const target = await server();
  const editor = connectClient(target.wsUrl, 'waiting');
  cleanup.push(() => editor.destroy());
  await editor.synced;
  editor.doc.getText('t').insert(0, 'hello world');
  // A keystroke whose first half the server never got: it waits in the document, unsaved.
  const type = typist();
  type('a');
  const waiter = connectRaw(`${target.wsUrl}/waiting?ack=1`);
  const attacker = connectRaw(`${target.wsUrl}/waiting`);
  cleanup.push(
    () => waiter.socket.close(),
    () => attacker.socket.close(),
  );
  await Promise.all([waiter.opened, attacker.opened]);
  waiter.socket.send(encodeUpdate(type('b')));
  // The answer to a presence query, handled after it, says the keystroke is in.
  waiter.socket.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS));
  await waiter.nextFrame(MESSAGE_AWARENESS);
  const client = editor.doc.clientID;
  attacker.socket.send(encodeUpdate(forgedItem(777, Y.createID(client, 8), Y.createID(client, 2))));

  // The reloaded document lacks the waiting keystroke: its sender must reconnect to send it again.
  const reason = 'what this connection sent waits for edits the server has not received, and the document reloads; reconnect to resync';
  expect(await waiter.closed).toEqual({ code: 1013, reason });
  const error = decoding.createDecoder(await waiter.nextFrame(MESSAGE_ERROR));
  decoding.readVarUint(error);
  expect(decoding.readVarString(error)).toBe('waiting-dropped');
  expect((await attacker.closed).code).toBe(1007);
  editor.doc.getText('t').insert(11, '!');
  const reader = connectClient(target.wsUrl, 'waiting');
  cleanup.push(() => reader.destroy());
  await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'hello world!', 'the editor, still connected');
  expect(editor.provider.wsconnected).toBe(true);
});

/** Resolves once every client's text `t` is the same, checked after each update of any of them. */
function converged(clients: YClient[]): Promise<void> {
  const same = () => clients.every((client) => client.doc.getText('t').toString() === clients[0]!.doc.getText('t').toString());
  return waitForDocs(
    clients.map((client) => client.doc),
    same,
    'the clients to converge',
  );
}

/**
 * `count` official clients on `doc`, synced, the first having typed "hello world" (its clocks 0 to
 * 10) and everyone having it; `dropped` counts how often any of them lost its connection.
 */
async function editingTogether(target: ServerProcess, doc: string, count: number): Promise<{ clients: YClient[]; first: YClient; dropped: () => number }> {
  const clients = Array.from({ length: count }, () => connectClient(target.wsUrl, doc));
  cleanup.push(() => clients.forEach((client) => client.destroy()));
  let dropped = 0;
  for (const client of clients) client.provider.on('connection-close', () => dropped++);
  await Promise.all(clients.map((client) => client.synced));
  const first = clients[0]!;
  first.doc.getText('t').insert(0, 'hello world');
  await converged(clients);
  return { clients, first, dropped: () => dropped };
}

it('loses no edit through reload after reload while everyone types', async () => {
  const seed = testSeed('reload while typing');
  const random = seededRandom(seed);
  // With --fsync each write takes a disk sync: writes are in flight when the document fails, and
  // what they hold must still reach the others.
  let target = await server(['--fsync']);
  const { clients, first, dropped } = await editingTogether(target, 'busy', 3);
  const type = (client: YClient, edits: number) => {
    const text = client.doc.getText('t');
    for (let i = 0; i < edits; i++) {
      const at = Math.floor(random() * (text.length + 1));
      if (random() < 0.3 && at < text.length) text.delete(at, 1);
      else text.insert(at, String.fromCharCode(97 + Math.floor(random() * 26)));
    }
  };

  for (let round = 0; round < 10; round++) {
    const attacker = connectRaw(`${target.wsUrl}/busy`);
    cleanup.push(() => attacker.socket.close());
    await attacker.opened;
    for (const client of clients) type(client, 5);
    // "r" and "l" of the first text: deleted or not, the items stay, and the forged one falls out of place.
    attacker.socket.send(encodeUpdate(forgedItem(777, Y.createID(first.doc.clientID, 8), Y.createID(first.doc.clientID, 2))));
    for (const client of clients) type(client, 5);
    expect((await attacker.closed).code).toBe(1007);
    for (const client of clients) type(client, 2);
    await converged(clients);
  }
  expect(dropped()).toBe(0);
  const text = first.doc.getText('t').toString();

  await target.kill();
  target = await startServer({ dataDir: target.dataDir, args: ['--fsync'] });
  cleanup.push(() => target.stop());
  const after = connectClient(target.wsUrl, 'busy');
  cleanup.push(() => after.destroy());
  await after.synced;
  expect(after.doc.getText('t').toString()).toBe(text);
  expect(after.doc.store.clients.has(777)).toBe(false);
});

it('answers a client whose request for the document waits for a write when an update breaks the document', async () => {
  // The request must wait for a write in flight (it is answered only once nothing waits to be
  // stored), and the failure must come while it waits: then the reloaded document answers it.
  // The writer's deletion of 100,000 items is a few bytes that take the server milliseconds to
  // apply; the request and the forged item, sent right behind it, arrive meanwhile and are handled
  // as soon as it is applied, while its write waits for the disk (--fsync). Measured with a probe
  // on that path: it was taken in 8 of 8 runs, and in 11 of 12 with a second copy of the test
  // running beside it; with the request not re-queued for the reloaded document, 4 of 4 runs fail.
  // (Before, the request followed a round trip, and the path was taken in about 1 run in 4.)
  const target = await server(['--fsync']);
  const [writer, joining, attacker] = [0, 1, 2].map(() => connectRaw(`${target.wsUrl}/caught`)) as [RawClient, RawClient, RawClient];
  cleanup.push(() => [writer, joining, attacker].forEach((client) => client.socket.close()));
  await Promise.all([writer, joining, attacker].map((client) => client.opened));
  const seed = new Y.Doc();
  seed.getText('t').insert(0, 'hello world');
  const long = seed.getText('long');
  for (let i = 0; i < 100_000; i++) long.insert(0, 'x');
  const client = seed.clientID;
  writer.socket.send(encodeUpdate(Y.encodeStateAsUpdate(seed)));
  // The answer to a presence query, handled after it, says the update is in.
  writer.socket.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS));
  await writer.nextFrame(MESSAGE_AWARENESS);
  const before = Y.encodeStateVector(seed);
  long.delete(0, long.length);
  writer.socket.send(encodeUpdate(Y.encodeStateAsUpdate(seed, before)));
  joining.socket.send(encodeSyncStep1(Uint8Array.of(0)));
  attacker.socket.send(encodeUpdate(forgedItem(777, Y.createID(client, 8), Y.createID(client, 2))));
  expect((await attacker.closed).code).toBe(1007);

  // The joining client gets a sync step 2 with the writer's edits, and stays connected.
  const received = new Y.Doc();
  for (;;) {
    const decoder = decoding.createDecoder(await joining.nextFrame(MESSAGE_SYNC));
    decoding.readVarUint(decoder);
    if (decoding.readVarUint(decoder) !== SYNC_STEP_2) continue;
    Y.applyUpdate(received, decoding.readVarUint8Array(decoder));
    break;
  }
  expect(received.getText('t').toString()).toBe('hello world');
  // The deletion, in flight at the failure, was stored: the reloaded document holds it.
  expect(received.getText('long').length).toBe(0);
  expect(joining.socket.readyState).toBe(joining.socket.OPEN);
});

it('keeps the others connected when a second connection breaks the reloaded document with what it sent during the reload', async () => {
  const target = await server();
  // The sleeper joins first, so it is moved first; then the honest clients.
  const sleeper = connectRaw(`${target.wsUrl}/twice`);
  cleanup.push(() => sleeper.socket.close());
  await sleeper.opened;
  const { clients, first, dropped } = await editingTogether(target, 'twice', 3);

  const attacker = connectRaw(`${target.wsUrl}/twice`);
  cleanup.push(() => attacker.socket.close());
  await attacker.opened;
  const forged = encodeUpdate(forgedItem(777, Y.createID(first.doc.clientID, 8), Y.createID(first.doc.clientID, 2)));
  // One of the two breaks the document; the other's waits for the reload and breaks the reloaded one.
  attacker.socket.send(forged);
  sleeper.socket.send(forged);
  expect((await attacker.closed).code).toBe(1007);
  expect((await sleeper.closed).code).toBe(1007);

  first.doc.getText('t').insert(11, '!');
  await converged(clients);
  expect(clients[1]!.doc.getText('t').toString()).toBe('hello world!');
  expect(dropped()).toBe(0);
});

it('blames the connection whose waiting item breaks the document, not the author whose keystroke completes it', async () => {
  const target = await server();
  const author = connectClient(target.wsUrl, 'blame');
  const reader = connectClient(target.wsUrl, 'blame');
  cleanup.push(
    () => author.destroy(),
    () => reader.destroy(),
  );
  const authorCloses: number[] = [];
  author.provider.on('connection-close', (event) => authorCloses.push(event?.code ?? 0));
  await Promise.all([author.synced, reader.synced]);
  author.doc.getText('t').insert(0, 'hello');
  await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'hello', "the author's text");
  // An item that waits for the author's next keystroke, with its origins the wrong way round: that
  // keystroke, typed at the end, integrates it out of place.
  const client = author.doc.clientID;
  const attacker = connectRaw(`${target.wsUrl}/blame`);
  cleanup.push(() => attacker.socket.close());
  await attacker.opened;
  attacker.socket.send(encodeUpdate(forgedItem(666, Y.createID(client, 5), Y.createID(client, 0))));
  attacker.socket.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS));
  await attacker.nextFrame(MESSAGE_AWARENESS);

  author.doc.getText('t').insert(5, '!');
  expect(await attacker.closed).toEqual({ code: 1007, reason: 'an update broke the document; reconnect to resync' });
  await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'hello!', 'the keystroke, sent again');
  // The author was asked to send it again (1013), not refused for breaking the document.
  expect(authorCloses).toEqual([1013]);
  await expect
    .poll(() => target.logs.find((line) => line.includes('refused an update that broke the document')))
    .toMatch(/"answerable":\[\{"connection":\d+[^\]]*\}\],"bystander":\d+/);
});

it('removes the presence of a connection that closed while the document reloaded, for everyone who stayed', async () => {
  const target = await server();
  const { clients, first } = await editingTogether(target, 'presence', 2);
  // A raw client publishes a cursor, then closes: its close frame reaches the server, but it stops
  // reading, so its TCP connection stays open through the reload.
  const leaving = connectRaw(`${target.wsUrl}/presence`);
  cleanup.push(() => leaving.socket.terminate());
  await leaving.opened;
  const presence = encoding.createEncoder();
  encoding.writeVarUint(presence, MESSAGE_AWARENESS);
  const states = encoding.createEncoder();
  encoding.writeVarUint(states, 1);
  encoding.writeVarUint(states, 4242);
  encoding.writeVarUint(states, 1);
  encoding.writeVarString(states, JSON.stringify({ user: { name: 'Leaving' } }));
  encoding.writeVarUint8Array(presence, encoding.toUint8Array(states));
  leaving.socket.send(encoding.toUint8Array(presence));
  const sees = (present: boolean) =>
    Promise.all(
      clients.map((client) =>
        waitForEvent(client.provider.awareness, 'change', () => client.provider.awareness.getStates().has(4242) === present, 'the cursor', 10_000),
      ),
    );
  await sees(true);
  const tcp = (leaving.socket as unknown as { _socket: import('node:net').Socket })._socket;
  leaving.socket.close(1000, 'bye');
  tcp.pause();

  const attacker = connectRaw(`${target.wsUrl}/presence`);
  cleanup.push(() => attacker.socket.close());
  await attacker.opened;
  attacker.socket.send(encodeUpdate(forgedItem(777, Y.createID(first.doc.clientID, 8), Y.createID(first.doc.clientID, 2))));
  expect((await attacker.closed).code).toBe(1007);
  // Its cursor goes for the two who stayed (before, it stayed until its presence timed out, 30 s).
  await sees(false);
});
