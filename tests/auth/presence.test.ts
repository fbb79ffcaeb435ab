/**
 * Presence belongs to whoever published it: another user's connection cannot pose as someone or
 * wipe their cursor (what it sends for them is dropped, and reaches no one), while the same user
 * reconnecting takes their presence over. A connection publishes a few client ids, each a state of
 * bounded length.
 */
import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_PRESENCE_STATE_LENGTH } from '../../protocol/index.js';
import { MAX_PRESENCE_CLIENTS } from '../../server/sync/presence.js';
import { presenceStates } from '../helpers/presence-frame.js';
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
  const states = presenceStates(await newcomer.nextFrame(1));
  newcomer.socket.close();
  await newcomer.closed;
  return states;
}

/**
 * Sends a presence query and resolves with every awareness message received up to its answer (the
 * first that holds `marker`), as text: the server handles a connection's messages in order, and
 * what it relayed to this one before came first.
 */
async function awarenessUntilAnswered(raw: RawClient, marker: string): Promise<string[]> {
  raw.socket.send(Uint8Array.of(3));
  const received: string[] = [];
  while (!received.at(-1)?.includes(marker)) received.push(new TextDecoder().decode(await raw.nextFrame(1)));
  return received;
}

it("drops what another user's connection publishes or removes of someone's presence, relaying nothing of it", async () => {
  const ada = await join('presence/spoof', 'ada');
  ada.socket.send(presence(100, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow('presence/spoof')).get(100)).toEqual({ user: { name: 'Ada' } });

  for (const [mode, state, clock] of [
    ['ro', { user: { name: 'Mallory posing as Ada' } }, 1],
    ['rw', null, 2],
  ] as const) {
    const mallory = await join('presence/spoof', 'mallory', mode);
    // With Mallory's own presence after it: that part goes through.
    mallory.socket.send(presence(100, 9, state));
    mallory.socket.send(presence(101, clock, { user: { name: `Mallory (${mode})` } }));
    // Answered in order: the server has handled both by now.
    await awarenessUntilAnswered(mallory, `Mallory (${mode})`);
    expect(mallory.socket.readyState).toBe(mallory.socket.OPEN);
    const present = await presentNow('presence/spoof');
    expect(present.get(100)).toEqual({ user: { name: 'Ada' } });
    expect(present.get(101)).toEqual({ user: { name: `Mallory (${mode})` } });
    mallory.socket.close();
    await mallory.closed;
  }
  // Ada got nothing of it: whatever was relayed to her came before the answer to her own query.
  const received = await awarenessUntilAnswered(ada, '"Ada"');
  expect(received.join()).not.toContain('posing');
  ada.socket.close();
});

it("without identities, still drops a read-only connection's forgery of a writer's presence", async () => {
  const writer = connectRaw(withQuery(`${server.wsUrl}/presence/anonymous`, { token: await token('presence/anonymous', 'rw') }));
  await writer.opened;
  await writer.nextFrame(0);
  writer.socket.send(presence(300, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow('presence/anonymous')).get(300)).toEqual({ user: { name: 'Ada' } });
  const reader = connectRaw(withQuery(`${server.wsUrl}/presence/anonymous`, { token: await token('presence/anonymous', 'ro') }));
  await reader.opened;
  await reader.nextFrame(0);
  reader.socket.send(presence(300, 9, { user: { name: 'Mallory posing as Ada' } }));
  reader.socket.send(presence(301, 1, { user: { name: 'Mallory' } }));
  await awarenessUntilAnswered(reader, '"Mallory"');
  expect((await presentNow('presence/anonymous')).get(300)).toEqual({ user: { name: 'Ada' } });
  writer.socket.close();
  reader.socket.close();
});

it("without identities, drops what a connection from another address publishes of a writer's presence, and lets the same address take it over", async () => {
  const doc = 'presence/addresses';
  const anonymous = async (localAddress: string): Promise<RawClient> => {
    const raw = connectRaw(withQuery(`${server.wsUrl}/${doc}`, { token: await token(doc, 'rw') }), { localAddress });
    await raw.opened;
    await raw.nextFrame(0);
    return raw;
  };
  const ada = await anonymous('127.0.0.1');
  ada.socket.send(presence(600, 1, { user: { name: 'Ada' } }));
  await expect.poll(async () => (await presentNow(doc)).get(600)).toEqual({ user: { name: 'Ada' } });
  const mallory = await anonymous('127.0.0.2');
  mallory.socket.send(presence(600, 9, { user: { name: 'Mallory posing as Ada' } }));
  mallory.socket.send(presence(601, 1, { user: { name: 'Mallory' } }));
  await awarenessUntilAnswered(mallory, '"Mallory"');
  expect((await presentNow(doc)).get(600)).toEqual({ user: { name: 'Ada' } });
  // Ada reconnecting, from her address, before the server noticed the old connection drop.
  const back = await anonymous('127.0.0.1');
  back.socket.send(presence(600, 2, { user: { name: 'Ada, back' } }));
  await expect.poll(async () => (await presentNow(doc)).get(600)).toEqual({ user: { name: 'Ada, back' } });
  for (const raw of [ada, mallory, back]) raw.socket.close();
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
  await expect.poll(async () => ((await fetch(`${server.httpUrl}/healthz`).then((r) => r.json())) as { connections: number }).connections).toBe(1);
  expect((await presentNow('presence/reconnect')).get(200)).toEqual({ user: { name: 'Ada, back' } });
  after.socket.close();
});

it(`closes a connection that publishes more than ${MAX_PRESENCE_CLIENTS} presence client ids or a state over ${MAX_PRESENCE_STATE_LENGTH} characters; its presence goes with it`, async () => {
  const crowd = await join('presence/crowd', 'crowd');
  for (let id = 1; id <= MAX_PRESENCE_CLIENTS; id++) crowd.socket.send(presence(400 + id, 1, { user: { name: `one of ${id}` } }));
  crowd.socket.send(presence(400 + MAX_PRESENCE_CLIENTS + 1, 1, { user: { name: 'one too many' } }));
  expect(await crowd.closed).toEqual({ code: 1008, reason: `more than ${MAX_PRESENCE_CLIENTS} presence client ids on one connection` });

  const writer = await join('presence/crowd', 'writer');
  writer.socket.send(presence(500, 1, { user: { name: 'Ada' } }));
  writer.socket.send(presence(500, 2, { user: { name: 'Ada' }, avatar: 'x'.repeat(MAX_PRESENCE_STATE_LENGTH) }));
  const closed = await writer.closed;
  expect(closed.code).toBe(1007);
  expect(closed.reason).toBe(`invalid message: awareness update does not decode: state of client 500 is longer than ${MAX_PRESENCE_STATE_LENGTH} characters`);
  // A newcomer sees neither the one too many nor the long state: the crowd's ids went with it, and
  // Ada's first state is gone with her connection.
  await expect.poll(async () => [...(await presentNow('presence/crowd')).keys()]).toEqual([]);
});
