/**
 * permessage-deflate (RFC 7692): agreed when a client offers it, without context takeover either
 * way; large messages (a first sync, a paste) go compressed and small ones (a keystroke) as they
 * are; a compressed message is inflated with its size held to --max-message-size, so a
 * decompression bomb is refused (1009) and corrupt data too (1007), the document untouched.
 */
import { deflateRawSync, constants as zlib } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { encodeSyncStep1, encodeUpdate } from '../../protocol/index.js';
import { connectClient, connectRaw, waitForDoc } from '../helpers/clients.js';
import { clientFrame, RawSocket } from '../helpers/raw-socket.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let plain: ServerProcess;

beforeAll(async () => {
  [server, plain] = await Promise.all([startServer({ args: ['--max-message-size', '1MiB'] }), startServer({ args: ['--compression', 'false'] })]);
});

afterAll(async () => {
  for (const each of [server, plain]) {
    await each.stop();
    await removeDir(each.dataDir);
  }
});

/** A document of prose, as people write it: repetitive enough for deflate, not trivially so. */
function prose(paragraphs: number): Y.Doc {
  const doc = new Y.Doc();
  const words = [
    'the',
    'server',
    'stores',
    'every',
    'update',
    'before',
    'anyone',
    'sees',
    'it',
    'and',
    'editors',
    'follow',
    'live',
    'with',
    'their',
    'cursors',
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let p = 0; p < paragraphs; p++) {
    const sentence = Array.from({ length: 40 }, () => words[next() % words.length]).join(' ');
    doc.getText('t').insert(doc.getText('t').length, `${sentence}.\n`);
  }
  return doc;
}

/** Wire bytes a `ws` client receives from connecting until its document holds `expected` characters. */
async function firstSyncBytes(target: ServerProcess, name: string, expected: number, perMessageDeflate: boolean): Promise<number> {
  const doc = new Y.Doc();
  const socket = new WebSocket(`${target.wsUrl}/${name}`, { perMessageDeflate });
  let received = 0;
  socket.on('upgrade', (response) => response.socket.on('data', (chunk: Buffer) => (received += chunk.length)));
  socket.on('message', (data: Buffer) => {
    if (data[0] === 0 && (data[1] === 1 || data[1] === 2)) {
      const start = 2 + (data[2]! < 128 ? 1 : data[3]! < 128 ? 2 : data[4]! < 128 ? 3 : 4);
      Y.applyUpdate(doc, data.subarray(start));
    }
  });
  await new Promise<void>((resolve) => socket.once('open', () => resolve()));
  socket.send(encodeSyncStep1(Uint8Array.of(0)));
  await waitForDoc(doc, () => doc.getText('t').length === expected, 'the whole document');
  expect(socket.extensions).toBe(perMessageDeflate && target === server ? 'permessage-deflate' : '');
  socket.close();
  return received;
}

async function store(target: ServerProcess, name: string, doc: Y.Doc): Promise<void> {
  const writer = connectRaw(`${target.wsUrl}/${name}`, { perMessageDeflate: false });
  await writer.opened;
  writer.socket.send(encodeUpdate(Y.encodeStateAsUpdate(doc)));
  const reader = connectClient(target.wsUrl, name);
  await reader.synced;
  await waitForDoc(reader.doc, () => reader.doc.getText('t').length === doc.getText('t').length, 'the stored document');
  reader.destroy();
  writer.socket.close();
}

describe('permessage-deflate', () => {
  it("sends a new client's first sync compressed, several times smaller, when it offers deflate", async () => {
    const doc = prose(400);
    const length = doc.getText('t').length;
    await store(server, 'large', doc);
    const compressed = await firstSyncBytes(server, 'large', length, true);
    const uncompressed = await firstSyncBytes(server, 'large', length, false);
    console.log(`[deflate] first sync of ${length} characters: ${uncompressed} bytes plain, ${compressed} compressed`);
    expect(uncompressed / compressed).toBeGreaterThan(3);
    // --compression false: the offer is declined, and the bytes are the same as without one.
    await store(plain, 'large', doc);
    const declined = await firstSyncBytes(plain, 'large', length, true);
    expect(declined).toBeGreaterThan(uncompressed * 0.9);
  });

  it('compresses only large messages: a keystroke goes as it is', async () => {
    const client = await RawSocket.open(server.port, '/ws/small', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
    expect(client.handshake).toContain('Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    const writer = connectClient(server.wsUrl, 'small');
    await writer.synced;
    client.write(clientFrame(2, encodeSyncStep1(Uint8Array.of(0))));
    await client.take((frame) => frame.payload[0] === 0 && frame.payload[1] === 1);
    writer.doc.getText('t').insert(0, 'x');
    const keystroke = await client.take((frame) => frame.payload[0] === 0 && frame.payload[1] === 2);
    expect(keystroke.compressed).toBe(false);
    writer.doc.getText('t').insert(1, 'pasted '.repeat(1000));
    const paste = await client.take((frame) => frame.compressed);
    expect(client.violations).toEqual([]);
    expect(paste.payload.length).toBeLessThan(1000);
    writer.destroy();
    client.destroy();
  });

  it('takes compressed updates from a client, and they reach the others', async () => {
    const reader = connectClient(server.wsUrl, 'inbound');
    await reader.synced;
    // The ws client compresses what it sends from 1 KiB on.
    const writer = connectRaw(`${server.wsUrl}/inbound`, { perMessageDeflate: { threshold: 0 } });
    await writer.opened;
    expect(writer.socket.extensions).toContain('permessage-deflate');
    const source = prose(50);
    writer.socket.send(encodeUpdate(Y.encodeStateAsUpdate(source)));
    await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === source.getText('t').toString(), 'the compressed update');
    reader.destroy();
    writer.socket.close();
  });

  it('refuses a message that inflates past the size limit (1009), and one that does not inflate (1007), the document untouched', async () => {
    const keeper = connectClient(server.wsUrl, 'bomb');
    const witness = connectClient(server.wsUrl, 'bomb');
    await Promise.all([keeper.synced, witness.synced]);
    keeper.doc.getText('t').insert(0, 'kept');
    // Relayed only once stored.
    await waitForDoc(witness.doc, () => witness.doc.getText('t').toString() === 'kept', 'the keeper text');
    // 64 MiB of zeros compress to about 64 KiB: far over the 1 MiB limit once inflated.
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zlib.Z_SYNC_FLUSH });
    const attacker = await RawSocket.open(server.port, '/ws/bomb', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
    attacker.write(clientFrame(2, bomb.subarray(0, bomb.length - 4), { rsv: 4 }));
    expect((await attacker.closed()).code).toBe(1009);
    const corrupt = await RawSocket.open(server.port, '/ws/bomb', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
    corrupt.write(clientFrame(2, Buffer.from([0xff, 0xfe, 0xfd, 0x01, 0x02]), { rsv: 4 }));
    expect((await corrupt.closed()).code).toBe(1007);
    // Without an agreement, a compressed frame is a protocol error.
    const unagreed = await RawSocket.open(server.port, '/ws/bomb');
    unagreed.write(clientFrame(2, Buffer.from([0x01]), { rsv: 4 }));
    expect((await unagreed.closed()).code).toBe(1002);
    const late = connectClient(server.wsUrl, 'bomb');
    await late.synced;
    await waitForDoc(late.doc, () => late.doc.getText('t').toString() === 'kept', 'the document as it was');
    for (const client of [attacker, corrupt, unagreed]) client.destroy();
    for (const client of [keeper, witness, late]) client.destroy();
  });
});
