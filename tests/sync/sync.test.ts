/**
 * Live sync between real y-websocket clients through a real server process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
const clients: YClient[] = [];

function client(name: string, params?: Record<string, string>): YClient {
  const created = connectClient(server.wsUrl, name, { params });
  clients.push(created);
  return created;
}

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  for (const created of clients) created.destroy();
  await server.stop();
  await removeDir(server.dataDir);
});

describe('sync between clients', () => {
  it('converges both ways on text', async () => {
    const a = client('text-doc');
    const b = client('text-doc');
    await Promise.all([a.synced, b.synced]);
    a.doc.getText('t').insert(0, 'hello');
    await waitForDoc(b.doc, () => b.doc.getText('t').toString() === 'hello', 'b to see a');
    b.doc.getText('t').insert(5, ' world');
    await waitForDoc(a.doc, () => a.doc.getText('t').toString() === 'hello world', 'a to see b');
    // concurrent edits at the same place converge to one text
    a.doc.getText('t').insert(0, 'A');
    b.doc.getText('t').insert(0, 'B');
    const complete = (doc: Y.Doc) => () => doc.getText('t').length === 13;
    await Promise.all([waitForDoc(a.doc, complete(a.doc), 'a to see both'), waitForDoc(b.doc, complete(b.doc), 'b to see both')]);
    expect(a.doc.getText('t').toString()).toBe(b.doc.getText('t').toString());
    expect(a.doc.getText('t').toString()).toMatch(/^(AB|BA)hello world$/);
  });

  it('converges both ways on maps', async () => {
    const a = client('map-doc');
    const b = client('map-doc');
    await Promise.all([a.synced, b.synced]);
    a.doc.getMap('m').set('x', 1);
    b.doc.getMap('m').set('y', { nested: [1, 2] });
    const both = (doc: Y.Doc) => () => doc.getMap('m').get('x') === 1 && JSON.stringify(doc.getMap('m').get('y')) === '{"nested":[1,2]}';
    await Promise.all([waitForDoc(a.doc, both(a.doc)), waitForDoc(b.doc, both(b.doc))]);
    b.doc.getMap('m').delete('x');
    await waitForDoc(a.doc, () => !a.doc.getMap('m').has('x'), 'delete to travel');
  });

  it('gives a late joiner the full state', async () => {
    const a = client('late-doc');
    await a.synced;
    a.doc.transact(() => {
      a.doc.getText('t').insert(0, 'written before anyone else came');
      a.doc.getArray<number>('list').push([1, 2, 3]);
    });
    // a sees its own edit acknowledged by a second client before the late one joins
    const witness = client('late-doc');
    await waitForDoc(witness.doc, () => witness.doc.getArray('list').length === 3);
    const late = client('late-doc');
    await late.synced;
    expect(late.doc.getText('t').toString()).toBe('written before anyone else came');
    expect(late.doc.getArray('list').toArray()).toEqual([1, 2, 3]);
  });

  it('relays a burst from two writers as separate messages, in order, never echoing a writer', async () => {
    const a = client('burst-doc');
    const b = client('burst-doc');
    await Promise.all([a.synced, b.synced]);
    const remoteUpdates = (yc: YClient): Y.Doc[] => {
      const seen: Y.Doc[] = [];
      yc.doc.on('update', (_update: Uint8Array, origin: unknown) => {
        if (origin === yc.provider) seen.push(yc.doc);
      });
      return seen;
    };
    const toA = remoteUpdates(a);
    const toB = remoteUpdates(b);
    const reader = client('burst-doc');
    await reader.synced;
    const toReader = remoteUpdates(reader);
    // Each keystroke is its own transaction and message; typed in one tick, so the server takes
    // them in a few socket reads and stores them in a few batches, interleaved across writers.
    const KEYS = 300;
    for (let i = 0; i < KEYS; i++) {
      a.doc.getText('t').insert(i, 'a');
      b.doc.getMap('m').set(`k${i}`, i);
    }
    const done = (doc: Y.Doc) => () => doc.getText('t').length === KEYS && doc.getMap('m').size === KEYS;
    await Promise.all([waitForDoc(a.doc, done(a.doc)), waitForDoc(b.doc, done(b.doc)), waitForDoc(reader.doc, done(reader.doc))]);
    // Every update arrives as a message of its own, exactly once, and never back at its sender.
    expect(toReader).toHaveLength(2 * KEYS);
    expect(toA).toHaveLength(KEYS);
    expect(toB).toHaveLength(KEYS);
    expect(reader.doc.getText('t').toString()).toBe('a'.repeat(KEYS));
  });

  it('keeps rooms isolated', async () => {
    const a = client('room-one');
    const b = client('room-two');
    await Promise.all([a.synced, b.synced]);
    a.doc.getText('t').insert(0, 'only in one');
    b.doc.getText('t').insert(0, 'only in two');
    const a2 = client('room-one');
    const b2 = client('room-two');
    await waitForDoc(a2.doc, () => a2.doc.getText('t').toString() === 'only in one');
    await waitForDoc(b2.doc, () => b2.doc.getText('t').toString() === 'only in two');
    expect(a.doc.getText('t').toString()).toBe('only in one');
    expect(b.doc.getText('t').toString()).toBe('only in two');
  });

  it('shows awareness while a client is here and removes it when it leaves', async () => {
    const a = client('presence-doc');
    const b = client('presence-doc');
    await Promise.all([a.synced, b.synced]);
    a.provider.awareness.setLocalStateField('user', { name: 'Ada', color: '#c33' });
    const aId = a.doc.clientID;
    await new Promise<void>((resolve) => {
      const check = () => {
        if ((b.provider.awareness.getStates().get(aId) as { user?: { name: string } } | undefined)?.user?.name === 'Ada') {
          b.provider.awareness.off('change', check);
          resolve();
        }
      };
      b.provider.awareness.on('change', check);
      check();
    });
    const gone = new Promise<void>((resolve) => {
      b.provider.awareness.on('change', ({ removed }: { removed: number[] }) => {
        if (removed.includes(aId)) resolve();
      });
    });
    // The connection closes without a goodbye: the server must remove a's presence itself.
    a.provider.ws?.close();
    a.provider.shouldConnect = false;
    await gone;
    expect(b.provider.awareness.getStates().has(aId)).toBe(false);
  });

  it("keeps a client's presence when another client, who echoed it, leaves", async () => {
    const [a, b, c] = [client('echoed-presence'), client('echoed-presence'), client('echoed-presence')];
    await Promise.all([a.synced, b.synced, c.synced]);
    const aId = a.doc.clientID;
    const named = (observer: YClient, name: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if ((observer.provider.awareness.getStates().get(aId) as { user?: { name: string } } | undefined)?.user?.name !== name) return;
          observer.provider.awareness.off('change', check);
          resolve();
        };
        observer.provider.awareness.on('change', check);
        check();
      });
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' });
    // b and c have it, and the official client sends what it hears back: b echoes it.
    await Promise.all([named(b, 'Ada'), named(c, 'Ada')]);
    const removals: number[] = [];
    c.provider.awareness.on('change', ({ removed }: { removed: number[] }) => removals.push(...removed));
    const connections = async () => ((await (await fetch(`${server.httpUrl}/healthz`)).json()) as { connections: number }).connections;
    const before = await connections();
    b.destroy();
    await expect.poll(connections).toBe(before - 1);
    // Whatever the server sent c when b left came before this.
    a.provider.awareness.setLocalStateField('user', { name: 'Ada, still here' });
    await named(c, 'Ada, still here');
    expect(removals).not.toContain(aId);
    a.destroy();
    c.destroy();
  });

  it('answers /healthz with status, uptime, rooms and connections', async () => {
    const response = await fetch(`${server.httpUrl}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.status).toBe('ok');
    expect(typeof body.uptime).toBe('number');
    expect(body.rooms).toBeGreaterThan(0);
    expect(body.connections).toBeGreaterThan(0);
  });
});
