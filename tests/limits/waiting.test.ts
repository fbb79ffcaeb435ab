/**
 * The limit on what waits in a document for edits the server has not received (Yjs's pending
 * queues): past it, what waits is dropped, its senders are told and closed with 1013, and the other
 * clients go on untouched. Real server process, raw clients sending exactly the bytes under test.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import { encodeUpdate, MESSAGE_ERROR } from '../../protocol/index.js';
import { MAX_WAITING_DELETION_BYTES, MAX_WAITING_MESSAGES, MAX_WAITING_STRUCT_BYTES } from '../../server/sync/waiting.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, connectRaw, type RawClient, typist, waitForDoc } from '../helpers/clients.js';
import { type ServerProcess, startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

function server(): Promise<ServerProcess> {
  return startTestServer(cleanup);
}

async function raw(target: ServerProcess, doc: string, query = ''): Promise<RawClient> {
  const client = connectRaw(`${target.wsUrl}/${doc}${query}`);
  cleanup.push(() => client.socket.close());
  await client.opened;
  return client;
}

/** An update (v1) of deletions only: `count` single characters of a client that has written nothing. */
function deletionsOfUnknownItems(count: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // no structs
  encoding.writeVarUint(encoder, 1); // one client in the delete set
  encoding.writeVarUint(encoder, 424242);
  encoding.writeVarUint(encoder, count);
  for (let i = 0; i < count; i++) {
    encoding.writeVarUint(encoder, 1_000_000 + 2 * i);
    encoding.writeVarUint(encoder, 1);
  }
  return encoding.toUint8Array(encoder);
}

describe('what waits for missing edits', () => {
  it('is dropped past its limit: its senders are told and closed with 1013, everyone else goes on', async () => {
    const target = await server();
    const type = typist();
    const dependency = type('a');
    const dependent = type('b');
    // An honest client whose keystroke waits for its first one, and an editor and a reader.
    const waiter = await raw(target, 'flooded', '?ack=1');
    waiter.socket.send(encodeUpdate(dependent));
    const editor = connectClient(target.wsUrl, 'flooded');
    const reader = connectClient(target.wsUrl, 'flooded');
    cleanup.push(
      () => editor.destroy(),
      () => reader.destroy(),
    );
    await Promise.all([editor.synced, reader.synced]);

    // Deletions of thousands of characters nobody wrote: each would wait, and Yjs would apply them
    // all again with every update of the document.
    const flooder = await raw(target, 'flooded');
    const flood = deletionsOfUnknownItems(4 * MAX_WAITING_DELETION_BYTES);
    flooder.socket.send(encodeUpdate(flood));
    const reason = 'too much waits for edits the server has not received; reconnect to resync';
    expect(await flooder.closed).toEqual({ code: 1013, reason });
    expect(await waiter.closed).toEqual({ code: 1013, reason });
    const error = decoding.createDecoder(await waiter.nextFrame(MESSAGE_ERROR));
    decoding.readVarUint(error);
    expect(decoding.readVarString(error)).toBe('waiting-dropped');
    await expect.poll(() => target.logs.some((line) => line.includes('dropped what waited in the document'))).toBe(true);

    // The others stay connected and keep editing together.
    editor.doc.getText('x').insert(0, 'still editing');
    await waitForDoc(reader.doc, () => reader.doc.getText('x').toString() === 'still editing', 'the editor after the flood');
    expect(editor.provider.wsconnected && reader.provider.wsconnected).toBe(true);

    // What waited is gone: the first keystroke, arriving now, brings no second one with it.
    const late = await raw(target, 'flooded');
    late.socket.send(encodeUpdate(dependency));
    await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'a', 'the first keystroke');
    // The waiting client, reconnected, sends it again, and it is saved like any other.
    const again = await raw(target, 'flooded');
    again.socket.send(encodeUpdate(dependent));
    await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'ab', 'the second keystroke, sent again');
  });

  it('counts waiting text too: a writer whose paragraphs all wait for a first one it never sends is closed', async () => {
    const target = await server();
    const reader = connectClient(target.wsUrl, 'paragraphs');
    cleanup.push(() => reader.destroy());
    await reader.synced;
    const type = typist();
    type('the first paragraph, never sent');
    const writer = await raw(target, 'paragraphs');
    const paragraph = 'x'.repeat(1024);
    const closed = writer.closed;
    for (let sent = 0; sent <= MAX_WAITING_STRUCT_BYTES; sent += paragraph.length) writer.socket.send(encodeUpdate(type(paragraph)));
    expect(await closed).toEqual({ code: 1013, reason: 'too much waits for edits the server has not received; reconnect to resync' });
    // The reader saw none of it, and is still connected.
    expect(reader.doc.getText('t').toString()).toBe('');
    expect(reader.provider.wsconnected).toBe(true);
  });

  it(`counts messages too: a writer sending one waiting keystroke over and over is closed after ${MAX_WAITING_MESSAGES}`, async () => {
    const target = await server();
    const type = typist();
    type('a');
    const waiting = type('b');
    const writer = await raw(target, 'again');
    const closed = writer.closed;
    // Each is merged into the waiting queue again, which does not grow.
    for (let sent = 0; sent <= MAX_WAITING_MESSAGES; sent++) writer.socket.send(encodeUpdate(waiting));
    expect(await closed).toEqual({ code: 1013, reason: 'too much waits for edits the server has not received; reconnect to resync' });
  });
});
