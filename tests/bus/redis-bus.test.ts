/**
 * The Redis bus in-process, against a real redis-server: subscriptions confirmed before they
 * count, malformed messages dropped and counted, catch-up after a Redis restart, instances that
 * fall silent, and the head check. The whole path through rooms and clients is in `tests/scale/`.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { createClient } from 'redis';
import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { decodeBusMessage, encodeBusMessage } from '../../server/bus/bus-message.js';
import { HeadCheck } from '../../server/bus/head-check.js';
import { RedisBus, type RedisBusOptions } from '../../server/bus/redis-bus.js';
import type { BusListener, PresenceChange, StoredUpdates } from '../../server/sync/bus.js';
import { seededRandom, testSeed } from '../helpers/clients.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { describeWithRedis, RedisServer, redisPrefix, sharedRedis } from '../helpers/redis.js';

/** What a holder heard, in order. */
class Heard implements BusListener {
  head: number | null = 0;
  readonly events: string[] = [];
  readonly updates: StoredUpdates[] = [];
  readonly presence: PresenceChange[] = [];
  storedUpdates(message: StoredUpdates): void {
    this.updates.push(message);
    this.events.push(`updates ${message.head}`);
  }
  presenceChanged(message: PresenceChange): void {
    this.presence.push(message);
    this.events.push(`presence ${message.owner.instance}/${message.owner.connection}`);
  }
  missed(): void {
    this.events.push('missed');
  }
  presenceWanted(): void {
    this.events.push('wanted');
  }
  instanceGone(instance: string): void {
    this.events.push(`gone ${instance}`);
  }
}

const logger = pino({ level: 'silent' });
/** How long a reconnection may take under load (node-redis waits up to 1 s between attempts). */
const WAIT = { timeout: 10_000, interval: 20 };
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const one of open.splice(0).reverse()) await one.close();
});

async function bus(options: Partial<RedisBusOptions> & { url: string; prefix: string; instance: string }): Promise<RedisBus> {
  const connected = await RedisBus.connect({ logger, ...options });
  open.push(connected);
  return connected;
}

/** One update of a fresh client: `text` typed into `t`. */
function anUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

describeWithRedis('the Redis bus', () => {
  let url: string;
  beforeAll(() => {
    url = sharedRedis().url;
  });

  it('resolves a subscription once Redis confirmed it, and carries updates and presence to the other instances only', async () => {
    const prefix = redisPrefix();
    const [a, b] = [await bus({ url, prefix, instance: 'a' }), await bus({ url, prefix, instance: 'b' })];
    const [onA, onB] = [new Heard(), new Heard()];
    const fromA = await a.subscribe('doc', onA);
    await b.subscribe('doc', onB);
    expect(await sharedRedis().cli('pubsub', 'numsub', `${prefix}doc:doc`)).toMatch(/\n2\n?$/);
    const update = anUpdate('hello');
    fromA.publishUpdates({ origin: 'a', head: 3, updates: [update] });
    const owner = { instance: 'a', connection: 7, identity: 'ada', mode: 'ro' as const, address: '10.0.0.1' };
    fromA.publishPresence({ origin: 'a', owner, update: new Uint8Array([0]) });
    await vi.waitFor(() => expect(onB.events).toEqual(['updates 3', 'presence a/7']), WAIT);
    expect(onB.updates[0]!.updates).toEqual([update]);
    expect(onB.presence[0]!.owner).toEqual(owner);
    // Nothing comes back to its publisher.
    expect(onA.events).toEqual([]);
  });

  it('drops and counts every malformed message, and goes on delivering the good ones', async () => {
    const seed = testSeed('malformed bus messages');
    const random = seededRandom(seed);
    const prefix = redisPrefix();
    const b = await bus({ url, prefix, instance: 'b' });
    const heard = new Heard();
    await b.subscribe('doc', heard);
    const raw = createClient({ url });
    await raw.connect();
    open.push({ close: () => raw.close() });
    const good = encodeBusMessage({ kind: 'updates', origin: 'a', head: 1, updates: [anUpdate('x')] });
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(2, ...good.subarray(1)),
      Uint8Array.of(...good, 0),
      good.subarray(0, good.length - 1),
      encodeBusMessage({ kind: 'updates', origin: 'a', head: 1, updates: [Uint8Array.of(1, 2, 3)] }),
      encodeBusMessage({
        kind: 'presence',
        origin: 'a',
        owner: { instance: 'a', connection: 1, identity: null, mode: 'rw', address: '' },
        update: Uint8Array.of(1),
      }),
      encodeBusMessage({ kind: 'updates', origin: '', head: 1, updates: [] }),
    ];
    // And random bytes, some behind a valid start so they get past the first checks.
    for (let i = 0; i < 200; i++) {
      const noise = Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      bad.push(i % 2 === 0 ? noise : Uint8Array.of(1, 1 + Math.floor(random() * 4), 1, 97, ...noise));
    }
    for (const bytes of bad) {
      await raw.publish(`${prefix}doc:doc`, Buffer.from(bytes));
      await raw.publish(`${prefix}instances`, Buffer.from(bytes));
    }
    await raw.publish(`${prefix}doc:doc`, Buffer.from(good));
    await vi.waitFor(() => expect(heard.events).toContain('updates 1'), WAIT);
    // Random bytes behind a valid start may form a valid message; every other one was dropped, on both channels.
    const malformed = bad.filter((bytes) => {
      try {
        decodeBusMessage(bytes);
        return false;
      } catch {
        return true;
      }
    });
    expect(malformed.length).toBeGreaterThan(bad.length - 20);
    expect(b.health().dropped).toBe(malformed.length * 2);
  });

  it('after a Redis restart, renews every subscription, has each holder catch up, and asks for presence', async () => {
    const redis = await RedisServer.start();
    open.push({ close: () => redis.remove() });
    const prefix = redisPrefix();
    const [a, b] = [await bus({ url: redis.url, prefix, instance: 'a' }), await bus({ url: redis.url, prefix, instance: 'b' })];
    const [onA, onB] = [new Heard(), new Heard()];
    await a.subscribe('doc', onA);
    const fromB = await b.subscribe('doc', onB);
    await redis.stop();
    await vi.waitFor(() => expect(a.health().problem).toMatch(/Redis is out of reach/), WAIT);
    // A holder that subscribes while Redis is down is not kept waiting.
    const late = new Heard();
    await a.subscribe('other', late);
    await redis.restart();
    await vi.waitFor(() => {
      expect(onA.events).toEqual(expect.arrayContaining(['missed', 'wanted']));
      expect(late.events).toEqual(expect.arrayContaining(['missed', 'wanted']));
      expect(a.health().problem).toBeNull();
    }, WAIT);
    // The renewed subscription carries messages again.
    await vi.waitFor(async () => {
      fromB.publishUpdates({ origin: 'b', head: 9, updates: [] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(onA.events).toContain('updates 9');
    }, WAIT);
  });

  it('tells the others that an instance fell silent within 3 s, and not before', async () => {
    const redis = await RedisServer.start();
    open.push({ close: () => redis.remove() });
    const proxy = await FaultProxy.start({ path: redis.socket }, { socketName: 'redis.sock' });
    open.push(proxy);
    const prefix = redisPrefix();
    const a = await bus({ url: redis.url, prefix, instance: 'a' });
    const b = await bus({ url: `unix://${join(proxy.dir, 'redis.sock')}`, prefix, instance: 'b' });
    const onA = new Heard();
    const onB = new Heard();
    await a.subscribe('doc', onA);
    await b.subscribe('doc', onB);
    // Heartbeats flow: after 1.5 s nobody is gone.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(onA.events).not.toContain('gone b');
    await proxy.cut();
    const cut = performance.now();
    await vi.waitFor(() => expect(onA.events).toContain('gone b'), { timeout: 5000, interval: 20 });
    const after = performance.now() - cut;
    expect(after).toBeLessThan(3000 + 600);
    // The cut-off instance hears nobody either, and says it is degraded.
    await vi.waitFor(() => expect(onB.events).toContain('gone a'), { timeout: 5000 });
    expect(b.health().problem).not.toBeNull();
    await proxy.restore();
    await vi.waitFor(() => expect(onB.events.filter((event) => event === 'missed').length).toBeGreaterThan(0), WAIT);
    await vi.waitFor(() => expect(b.health().problem).toBeNull(), WAIT);
  });
});

describeWithRedis('the head check', () => {
  it('has a holder still behind the head its document had one check earlier catch up, and no other', async () => {
    const behind = new Heard();
    const current = new Heard();
    const loading = new Heard();
    loading.head = null;
    behind.head = 2;
    current.head = 2;
    const heads = new Map([['doc', 5]]);
    const asked: string[][] = [];
    const check = new HeadCheck(
      (names) => {
        asked.push([...names]);
        return Promise.resolve(heads);
      },
      () => [['doc', [behind, current, loading]] as const, ['unloaded', [loading]] as const],
      60_000,
      () => undefined,
    );
    await check.check();
    // The first check only reads: an update in flight would still arrive.
    expect(behind.events).toEqual([]);
    current.head = 5;
    await check.check();
    expect(behind.events).toEqual(['missed']);
    expect(current.events).toEqual([]);
    expect(loading.events).toEqual([]);
    // One query per check, for the documents loaded.
    expect(asked).toEqual([['doc'], ['doc']]);
    check.stop();
  });
});
