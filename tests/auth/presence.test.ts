/**
 * Presence belongs to whoever published it: another user's connection cannot pose as someone or
 * wipe their cursor (it is closed with 1008 and nothing of its message reaches anyone), while the
 * same user reconnecting takes their presence over.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectRaw, type RawClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, token, withQuery } from '../helpers/tokens.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ args: authArgs });
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

/** A raw connection to `doc` as `sub` in `mode`, joined (the server's sync step 1 received). */
async function join(doc: string, sub: string, mode: 'rw' | 'ro' = 'rw'): Promise<RawClient> {
  const raw = connectRaw(withQuery(`${server.wsUrl}/${doc}`, { token: await token(doc, mode, { sub }) }));
  await raw.opened;
  await raw.nextFrame(0);
  return raw;
}

/** An awareness message publishing `state` (or removing it, `null`) for `clientId` at `clock`. */
function presence(clientId: number, clock: number, state: Record<string, unknown> | null): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1);
  encoding.writeVarUint(update, clientId);
  encoding.writeVarUint(update, clock);
  encoding.writeVarString(update, JSON.stringify(state));
  const message = encoding.createEncoder();
  encoding.writeVarUint(message, 1);
  encoding.writeVarUint8Array(message, encoding.toUint8Array(update));
  return encoding.toUint8Array(message);
}

/** Everyone's presence as the server holds it, by client id: what a newcomer gets on joining. */
async function presentNow(doc: string): Promise<Map<number, unknown>> {
  const newcomer = await join(doc, 'newcomer', 'ro');
  // Sent on joining when anyone is present, and in answer to this query in any case.
  newcomer.socket.send(Uint8Array.of(3));
  const decoder = decoding.createDecoder(await newcomer.nextFrame(1));
  decoding.readVarUint(decoder);
  const update = decoding.createDecoder(decoding.readVarUint8Array(decoder));
  const states = new Map<number, unknown>();
  for (let count = decoding.readVarUint(update); count > 0; count--) {
    const clientId = decoding.readVarUint(update);
    decoding.readVarUint(update);
    states.set(clientId, JSON.parse(decoding.readVarString(update)));
  }
  newcomer.socket.close();
  await newcomer.closed;
  return states;
}

it('closes a connection that publishes or removes another user\'s presence, and changes nothing', async () => {
  const ada = await join('presence/spoof', 'ada');
  ada.socket.send(presence(100, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow('presence/spoof')).get(100)).toEqual({ user: { name: 'Ada' } });

  for (const [mode, state] of [
    ['ro', { user: { name: 'Mallory posing as Ada' } }],
    ['rw', null],
  ] as const) {
    const mallory = await join('presence/spoof', 'mallory', mode);
    mallory.socket.send(presence(100, 9, state));
    expect(await mallory.closed).toEqual({ code: 1008, reason: "the presence of client 100 belongs to another user's connection" });
  }
  expect((await presentNow('presence/spoof')).get(100)).toEqual({ user: { name: 'Ada' } });
  // Ada got nothing of it: the next message she receives is the answer to her own query.
  ada.socket.send(Uint8Array.of(3));
  const decoder = decoding.createDecoder(await ada.nextFrame(1));
  decoding.readVarUint(decoder);
  expect(new TextDecoder().decode(decoding.readVarUint8Array(decoder))).toContain('"Ada"');
  expect(ada.socket.readyState).toBe(ada.socket.OPEN);
  ada.socket.close();
});

it('without identities, still closes a read-only connection that publishes a writer\'s presence', async () => {
  const writer = connectRaw(withQuery(`${server.wsUrl}/presence/anonymous`, { token: await token('presence/anonymous', 'rw') }));
  await writer.opened;
  await writer.nextFrame(0);
  writer.socket.send(presence(300, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow('presence/anonymous')).get(300)).toEqual({ user: { name: 'Ada' } });
  const reader = connectRaw(withQuery(`${server.wsUrl}/presence/anonymous`, { token: await token('presence/anonymous', 'ro') }));
  await reader.opened;
  await reader.nextFrame(0);
  reader.socket.send(presence(300, 9, { user: { name: 'Mallory posing as Ada' } }));
  expect((await reader.closed).code).toBe(1008);
  expect((await presentNow('presence/anonymous')).get(300)).toEqual({ user: { name: 'Ada' } });
  writer.socket.close();
});

it('lets the same user take their presence over from an older connection, which no longer removes it when it goes', async () => {
  const before = await join('presence/reconnect', 'ada');
  before.socket.send(presence(200, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow('presence/reconnect')).get(200)).toEqual({ user: { name: 'Ada' } });
  // Ada reconnects while her old connection is still open (the server has not noticed it drop).
  const after = await join('presence/reconnect', 'ada');
  after.socket.send(presence(200, 2, { user: { name: 'Ada, back' } }));
  await expect.poll(async () => (await presentNow('presence/reconnect')).get(200)).toEqual({ user: { name: 'Ada, back' } });
  before.socket.close();
  await before.closed;
  await expect.poll(async () => (await fetch(`${server.httpUrl}/healthz`).then((r) => r.json()) as { connections: number }).connections).toBe(1);
  expect((await presentNow('presence/reconnect')).get(200)).toEqual({ user: { name: 'Ada, back' } });
  after.socket.close();
});
