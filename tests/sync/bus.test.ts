/**
 * The room on the document bus, with a real server, real LevelDB and official clients. The bus is
 * the test's: it plays a second instance holding the same documents, which stores its updates in
 * the same store (as instances share a database) and publishes them. What the room publishes is
 * what it stored, once stored; what it hears is applied and sent to its clients without being
 * stored again; a gap is filled from the store; presence crosses with its owner.
 */
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { createCollabServer } from '../../server/app.js';
import { DEFAULT_CONFIG } from '../../server/config.js';
import type { BusHealth, BusListener, BusSubscription, DocumentBus, PresenceChange, StoredUpdates } from '../../server/sync/bus.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, typist, waitForDoc, waitForEvent } from '../helpers/clients.js';
import { removeDir, tempDataDir } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

/** The other instance's end of the bus: what the server published, and a way to publish to it. */
class OtherInstance implements DocumentBus {
  readonly instance = 'server-under-test';
  readonly updates: StoredUpdates[] = [];
  readonly presence: PresenceChange[] = [];
  /** How many times the server asked for the others' presence. */
  wanted = 0;
  private readonly listeners = new Map<string, BusListener>();
  private readonly heard: Array<() => void> = [];

  constructor(readonly reliable: boolean) {}

  subscribe(name: string, listener: BusListener): Promise<BusSubscription> {
    this.listeners.set(name, listener);
    return Promise.resolve({
      publishUpdates: (message) => this.record(() => this.updates.push(message)),
      publishPresence: (message) => this.record(() => this.presence.push(message)),
      wantPresence: () => this.record(() => this.wanted++),
      unsubscribe: () => this.listeners.delete(name),
    });
  }

  health(): BusHealth {
    return { problem: null, dropped: 0 };
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  /** What the other instance publishes for `name`, heard by the server as a bus delivers it: later. */
  deliver(name: string, hear: (listener: BusListener) => void): void {
    const listener = this.listeners.get(name);
    if (listener === undefined) throw new Error(`the server does not hold ${name}`);
    setImmediate(() => hear(listener));
  }

  /** Resolves once the server has published something more. */
  nextPublication(): Promise<void> {
    return new Promise((resolve) => this.heard.push(resolve));
  }

  private record(keep: () => void): void {
    keep();
    for (const resolve of this.heard.splice(0)) resolve();
  }
}

async function serve(reliable: boolean) {
  const dataDir = await tempDataDir();
  cleanup.push(() => removeDir(dataDir));
  const store = await LevelDocumentStore.open(dataDir);
  cleanup.push(() => store.close());
  const bus = new OtherInstance(reliable);
  const server = createCollabServer({ ...DEFAULT_CONFIG, port: 0, unloadGraceMs: 60_000 }, store, pino({ level: 'silent' }), { bus });
  const { port } = await server.listen();
  cleanup.push(() => server.close());
  return { store, bus, url: `ws://127.0.0.1:${port}/ws` };
}

describe('the room on the document bus', () => {
  it('publishes what it stored, once stored, with the position it reached', async () => {
    const { store, bus, url } = await serve(true);
    const client = connectClient(url, 'shared');
    cleanup.push(() => client.destroy());
    await client.synced;
    const published = bus.nextPublication();
    client.doc.getText('t').insert(0, 'typed here');
    await published;
    const [message] = bus.updates;
    expect(message!.origin).toBe('server-under-test');
    // Stored before it was published: the store reaches the position the message names.
    const stored = await store.load('shared');
    expect(stored.head).toBe(message!.head);
    const other = new Y.Doc();
    for (const update of message!.updates) Y.applyUpdate(other, update);
    expect(other.getText('t').toString()).toBe('typed here');
  });

  it('sends clients what another instance stored, without storing it again', async () => {
    const { store, bus, url } = await serve(true);
    const client = connectClient(url, 'shared');
    cleanup.push(() => client.destroy());
    await client.synced;
    const type = typist();
    const update = type('from the other instance');
    const written = await store.append('shared', update);
    const logged = await store.logLength('shared');
    bus.deliver('shared', (listener) => listener.storedUpdates({ origin: 'other', head: written.position('shared'), updates: [update] }));
    await waitForDoc(client.doc, () => client.doc.getText('t').toString() === 'from the other instance', 'the client to get the other instance update');
    expect(await store.logLength('shared')).toBe(logged);
    // A client that joins now gets it too: the room holds it.
    const late = connectClient(url, 'shared');
    cleanup.push(() => late.destroy());
    await late.synced;
    expect(late.doc.getText('t').toString()).toBe('from the other instance');
  });

  it('on a bus that may lose messages, fills a gap from the store', async () => {
    const { store, bus, url } = await serve(false);
    const client = connectClient(url, 'gappy');
    cleanup.push(() => client.destroy());
    await client.synced;
    const type = typist();
    const lost = type('lost on the bus, ');
    await store.append('gappy', lost);
    const heard = type('heard');
    const written = await store.append('gappy', heard);
    // Only the second is heard: the room reads the first from the store.
    bus.deliver('gappy', (listener) => listener.storedUpdates({ origin: 'other', head: written.position('gappy'), updates: [heard] }));
    await waitForDoc(client.doc, () => client.doc.getText('t').toString() === 'lost on the bus, heard', 'the client to get both updates');
  });

  it("publishes its clients' presence with its owner, and shows another instance's to them", async () => {
    const { bus, url } = await serve(true);
    const client = connectClient(url, 'present');
    cleanup.push(() => client.destroy());
    await client.synced;
    const published = bus.nextPublication();
    client.provider.awareness.setLocalStateField('user', { name: 'Ada' });
    await published;
    const change = bus.presence.find((message) => message.owner.connection > 0)!;
    expect(change.owner).toMatchObject({ instance: 'server-under-test', identity: null, mode: 'rw', address: '127.0.0.1' });

    const elsewhere = new Awareness(new Y.Doc());
    elsewhere.setLocalStateField('user', { name: 'Bob' });
    const update = encodeAwarenessUpdate(elsewhere, [elsewhere.clientID]);
    const owner = { instance: 'other', connection: 1, identity: null, mode: 'rw' as const, address: '10.0.0.2' };
    bus.deliver('present', (listener) => listener.presenceChanged({ origin: 'other', owner, update }));
    const awareness = client.provider.awareness;
    await waitForEvent(awareness, 'change', () => awareness.getStates().get(elsewhere.clientID)?.['user']?.name === 'Bob', "the other instance's presence");

    // Someone else elsewhere may not take over the local client's presence: no client here ever sees it.
    const observer = connectClient(url, 'present');
    cleanup.push(() => observer.destroy());
    await observer.synced;
    const seen: unknown[] = [];
    observer.provider.awareness.on('change', () => seen.push(observer.provider.awareness.getStates().get(client.doc.clientID)?.['user']?.name));
    await waitForEvent(
      observer.provider.awareness,
      'change',
      () => observer.provider.awareness.getStates().has(elsewhere.clientID),
      'presence for the observer',
    );
    const posing = new Y.Doc();
    posing.clientID = client.doc.clientID;
    const poser = new Awareness(posing);
    // A clock past the client's own, so y-protocols would apply it.
    for (let i = 0; i < 5; i++) poser.setLocalStateField('user', { name: 'Mallory' });
    const forged = encodeAwarenessUpdate(poser, [poser.clientID]);
    const stranger = { ...owner, connection: 2, address: '10.0.0.3' };
    bus.deliver('present', (listener) => listener.presenceChanged({ origin: 'other', owner: stranger, update: forged }));
    // A later, honest change from elsewhere arrives after it: by then the forged one was handled.
    elsewhere.setLocalStateField('user', { name: 'Bob again' });
    const honest = encodeAwarenessUpdate(elsewhere, [elsewhere.clientID]);
    bus.deliver('present', (listener) => listener.presenceChanged({ origin: 'other', owner, update: honest }));
    const observed = observer.provider.awareness;
    await waitForEvent(observed, 'change', () => observed.getStates().get(elsewhere.clientID)?.['user']?.name === 'Bob again', 'the honest change');
    expect(seen).not.toContain('Mallory');
    expect(observed.getStates().get(client.doc.clientID)?.['user']).toEqual({ name: 'Ada' });
  });

  it('catches up from the store when the bus says it missed messages', async () => {
    const { store, bus, url } = await serve(false);
    const client = connectClient(url, 'missed');
    cleanup.push(() => client.destroy());
    await client.synced;
    await store.append('missed', typist()('lost while the bus was away'));
    bus.deliver('missed', (listener) => listener.missed());
    await waitForDoc(client.doc, () => client.doc.getText('t').toString() === 'lost while the bus was away', 'the client to get the missed update');
  });

  it('asks for presence once loaded, and drops the presence of an instance that fell silent', async () => {
    const { bus, url } = await serve(false);
    const client = connectClient(url, 'silent');
    cleanup.push(() => client.destroy());
    await client.synced;
    expect(bus.wanted).toBe(1);
    const elsewhere = new Awareness(new Y.Doc());
    elsewhere.setLocalStateField('user', { name: 'Bob' });
    const owner = { instance: 'other', connection: 1, identity: null, mode: 'rw' as const, address: '10.0.0.2' };
    bus.deliver('silent', (listener) => listener.presenceChanged({ origin: 'other', owner, update: encodeAwarenessUpdate(elsewhere, [elsewhere.clientID]) }));
    const awareness = client.provider.awareness;
    await waitForEvent(awareness, 'change', () => awareness.getStates().has(elsewhere.clientID), "the other instance's presence");
    // Another instance's fall changes nothing here; this one's removes its presence.
    bus.deliver('silent', (listener) => listener.instanceGone('third'));
    bus.deliver('silent', (listener) => listener.instanceGone('other'));
    await waitForEvent(awareness, 'change', () => !awareness.getStates().has(elsewhere.clientID), 'the presence to go');
  });

  it('has its clients publish their presence anew, at a new clock, when another instance asks', async () => {
    const { bus, url } = await serve(false);
    const client = connectClient(url, 'renew');
    cleanup.push(() => client.destroy());
    await client.synced;
    const first = bus.nextPublication();
    client.provider.awareness.setLocalStateField('user', { name: 'Ada' });
    await first;
    const clock = client.provider.awareness.meta.get(client.doc.clientID)!.clock;
    const published = bus.presence.length;
    bus.deliver('renew', (listener) => listener.presenceWanted());
    const seen = new Awareness(new Y.Doc());
    await vi.waitFor(
      () => {
        for (const change of bus.presence.slice(published)) applyAwarenessUpdate(seen, change.update, 'bus');
        expect(seen.meta.get(client.doc.clientID)?.clock).toBe(clock + 1);
      },
      { timeout: 5000 },
    );
    expect(seen.getStates().get(client.doc.clientID)?.['user']).toEqual({ name: 'Ada' });
    expect(client.provider.awareness.getLocalState()?.['user']).toEqual({ name: 'Ada' });
  });
});
