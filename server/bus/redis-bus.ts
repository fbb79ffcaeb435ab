/**
 * The document bus over Redis pub/sub, for several instances sharing a PostgreSQL store.
 *
 * - One channel per document, `<prefix>doc:<name>`, carrying stored updates (with the position of
 *   the last), presence with its owner, and requests for presence (`bus-message.ts`); and one
 *   channel, `<prefix>instances`, for heartbeats (`instances.ts`).
 * - Pub/sub may lose messages: it is not reliable (`reliable = false`), and receivers fill gaps from
 *   the store. What is lost without a later gap to show it is found three ways: a subscriber that
 *   reconnects (a Redis restart, or a subscriber dropped for falling behind) has every holder catch
 *   up; a publish that failed is followed, once Redis is back, by the document's head; and the
 *   periodic head check (`head-check.ts`) compares the holders with the store.
 * - `subscribe` resolves once Redis confirmed the subscription; while Redis is out of reach, at
 *   once, and the holder catches up once the subscription is confirmed.
 * - Every message heard is untrusted: one that does not decode is dropped and counted (`health`),
 *   and a listener that throws is logged; neither stops the bus.
 */
import type { Position } from '../../persistence/document-store.js';
import type { Logger } from '../logger.js';
import type { BusHealth, BusListener, BusSubscription, DocumentBus, PresenceChange, StoredUpdates } from '../sync/bus.js';
import { type BusMessage, decodeBusMessage, encodeBusMessage } from './bus-message.js';
import { HEAD_CHECK_MS, HeadCheck, type ReadHeads } from './head-check.js';
import { HEARTBEAT_MS, InstanceWatch, SILENCE_MS } from './instances.js';
import { type RedisConnection, redisConnection } from './redis-connection.js';
import { redactUrl } from './redis-url.js';

export interface RedisBusOptions {
  /** Where Redis is (see `redis-connection.ts`). */
  readonly url: string;
  /** Starts every channel name, so that several deployments can share one Redis. */
  readonly prefix: string;
  /** This instance's id, unique among the instances on the bus. */
  readonly instance: string;
  /** The stored heads of documents, for the head check; without it there is none. */
  readonly readHeads?: ReadHeads;
  /** Default `HEAD_CHECK_MS`. */
  readonly headCheckMs?: number;
  /** Defaults `HEARTBEAT_MS` and `SILENCE_MS`. */
  readonly heartbeatMs?: number;
  readonly silenceMs?: number;
  readonly logger: Logger;
}

/** How often silent instances are looked for: presence goes at most this long after the silence limit. */
const SWEEP_MS = 100;

/** How long `RedisBus.connect` waits for Redis before the instance starts without it. */
const FIRST_CONNECT_MS = 2000;

/** The holders of one document on this instance, and the state of its subscription. */
interface Channel {
  readonly name: string;
  readonly listeners: Set<BusListener>;
  /** Redis confirmed the subscription (node-redis renews it on every reconnection). */
  confirmed: boolean;
  subscribing: Promise<void> | null;
  /** The head of the last publish that failed, announced once Redis is back. */
  owed: Position | null;
  readonly hear: (message: Buffer) => void;
}

export class RedisBus implements DocumentBus {
  readonly reliable = false;
  private readonly channels = new Map<string, Channel>();
  private readonly watch: InstanceWatch;
  private readonly headCheck: HeadCheck | null;
  private readonly timers: NodeJS.Timeout[] = [];
  private dropped = 0;
  private instancesConfirmed = false;
  private lastResync = performance.now();
  private closed = false;

  private constructor(
    private readonly options: RedisBusOptions,
    private readonly subscriber: RedisConnection,
    private readonly publisher: RedisConnection,
  ) {
    this.watch = new InstanceWatch(
      options.instance,
      {
        gone: (instance) => this.instanceGone(instance),
        back: (instance) => this.instanceBack(instance),
        selfBack: () => this.selfBack(),
      },
      options.silenceMs ?? SILENCE_MS,
    );
    const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.timers.push(
      setInterval(() => this.heartbeat(), heartbeatMs),
      setInterval(() => this.watch.sweep(), SWEEP_MS),
    );
    for (const timer of this.timers) timer.unref();
    this.headCheck =
      options.readHeads === undefined
        ? null
        : new HeadCheck(
            options.readHeads,
            () => this.holders(),
            options.headCheckMs ?? HEAD_CHECK_MS,
            (error) => options.logger.debug({ err: error }, 'the head check could not read the store; it tries again'),
          );
  }

  /**
   * Connects to Redis. Resolves once both connections are up, or after `FIRST_CONNECT_MS` without
   * them: the instance then serves its own clients and joins the others once Redis is reachable.
   */
  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const name = `collab-${options.instance}`.replace(/[^\w.-]/g, '_');
    const bus = new RedisBus(options, redisConnection(options.url, `${name}-sub`), redisConnection(options.url, `${name}-pub`));
    const ready = Promise.all([bus.subscriber, bus.publisher].map((client) => new Promise((resolve) => client.once('ready', resolve))));
    bus.listen();
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([ready.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), FIRST_CONNECT_MS)))]);
    clearTimeout(timer);
    if (!waited) {
      options.logger.warn({ redis: redactUrl(options.url) }, 'Redis is out of reach: this instance serves its own clients alone until it can reach it');
    }
    return bus;
  }

  get instance(): string {
    return this.options.instance;
  }

  async subscribe(name: string, listener: BusListener): Promise<BusSubscription> {
    if (this.closed) throw new Error('the bus is closed');
    const key = `${this.options.prefix}doc:${name}`;
    let channel = this.channels.get(key);
    if (channel === undefined) {
      const created: Channel = { name, listeners: new Set(), confirmed: false, subscribing: null, owed: null, hear: (bytes) => this.hear(created, bytes) };
      this.channels.set(key, (channel = created));
      this.confirm(key, channel);
    }
    channel.listeners.add(listener);
    await channel.subscribing;
    const entry = channel;
    let subscribed = true;
    return {
      publishUpdates: (message: StoredUpdates) => {
        if (subscribed) this.publish(key, entry, { kind: 'updates', origin: message.origin, head: message.head, updates: message.updates });
      },
      publishPresence: ({ owner, update }: PresenceChange) => {
        if (subscribed) this.publish(key, entry, { kind: 'presence', origin: this.instance, owner, update });
      },
      wantPresence: () => {
        if (subscribed) this.publish(key, entry, { kind: 'want', origin: this.instance });
      },
      unsubscribe: () => {
        if (!subscribed) return;
        subscribed = false;
        this.unsubscribe(key, entry, listener);
      },
    };
  }

  health(): BusHealth {
    let problem: string | null = null;
    if (!this.subscriber.isReady || !this.publisher.isReady)
      problem = `Redis is out of reach (${redactUrl(this.options.url)}): other instances' changes arrive late`;
    else if (this.watch.silent) problem = "this instance's heartbeats do not come back over Redis: other instances' changes arrive late";
    return { problem, dropped: this.dropped };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.headCheck?.stop();
    this.channels.clear();
    // A client still trying to connect has nothing to drain: it is dropped.
    await Promise.allSettled(
      [this.subscriber, this.publisher].map((client) => (client.isReady ? client.close() : client.isOpen ? client.destroy() : undefined)),
    );
  }

  /** Connects both clients, and follows them through outages. */
  private listen(): void {
    const redis = redactUrl(this.options.url);
    let subscriberEverReady = false;
    let publisherEverReady = false;
    let publisherLost = false;
    let reported = false;
    this.subscriber.on('ready', () => {
      const resync = subscriberEverReady;
      subscriberEverReady = true;
      this.options.logger.info({ redis }, resync ? 'the bus reconnected to Redis: every document catches up' : 'the bus is connected to Redis');
      this.subscriberReady(resync);
    });
    this.publisher.on('ready', () => {
      if (publisherEverReady && publisherLost) this.publisherBack();
      publisherEverReady = true;
      publisherLost = false;
    });
    for (const client of [this.subscriber, this.publisher]) {
      client.on('error', (error: Error) => {
        if (client === this.publisher) publisherLost = true;
        if (reported || this.closed) return;
        reported = true;
        this.options.logger.warn({ err: error, redis }, 'lost the connection to Redis, or could not make it; reconnecting');
      });
      client.on('ready', () => {
        reported = false;
      });
      void client.connect().catch(() => undefined);
    }
  }

  /** The subscriber is (again) connected: renewed subscriptions catch up, the others subscribe. */
  private subscriberReady(resync: boolean): void {
    if (!this.instancesConfirmed) {
      this.subscriber
        .subscribe(`${this.options.prefix}instances`, (bytes: Buffer) => this.hearInstance(bytes), true)
        .then(() => (this.instancesConfirmed = true))
        .catch(() => undefined);
    }
    if (resync) this.lastResync = performance.now();
    for (const [key, channel] of this.channels) {
      if (channel.confirmed) {
        if (resync) this.resync(key, channel);
      } else this.confirm(key, channel, true);
    }
  }

  /** Subscribes to a channel if the subscriber is up; the holders catch up once confirmed, if `resync`. */
  private confirm(key: string, channel: Channel, resync = false): void {
    if (!this.subscriber.isReady || channel.subscribing !== null) return;
    channel.subscribing = this.subscriber.subscribe(key, channel.hear, true).then(
      () => {
        channel.subscribing = null;
        channel.confirmed = true;
        // Unsubscribed while it was confirmed: node-redis did not hold it then.
        if (this.channels.get(key) !== channel) void this.subscriber.unsubscribe(key, channel.hear, true).catch(() => undefined);
        else if (resync) this.resync(key, channel);
      },
      () => {
        // Lost with the connection: the next 'ready' subscribes again.
        channel.subscribing = null;
      },
    );
  }

  /** Messages of `channel` may have been lost: its holders catch up and renew their presence, and ask the others for theirs. */
  private resync(key: string, channel: Channel): void {
    for (const listener of [...channel.listeners]) {
      this.deliver(() => listener.missed());
      this.deliver(() => listener.presenceWanted());
    }
    this.publish(key, channel, { kind: 'want', origin: this.instance });
  }

  /** The publisher is back after an outage: the heads of failed publishes go out, and presence is published anew. */
  private publisherBack(): void {
    for (const [key, channel] of this.channels) {
      if (channel.owed !== null) this.publish(key, channel, { kind: 'updates', origin: this.instance, head: channel.owed, updates: [] });
      channel.owed = null;
      for (const listener of [...channel.listeners]) this.deliver(() => listener.presenceWanted());
    }
  }

  /** This instance's heartbeats come back after a silence the client library did not see: everything resyncs. */
  private selfBack(): void {
    if (performance.now() - this.lastResync < (this.options.silenceMs ?? SILENCE_MS)) return;
    this.lastResync = performance.now();
    for (const [key, channel] of this.channels) this.resync(key, channel);
  }

  private unsubscribe(key: string, channel: Channel, listener: BusListener): void {
    channel.listeners.delete(listener);
    if (channel.listeners.size > 0 || this.channels.get(key) !== channel) return;
    this.channels.delete(key);
    if (channel.confirmed || channel.subscribing !== null) {
      // Offline, node-redis keeps the subscription and renews it: its messages then find no channel here.
      void this.subscriber.unsubscribe(key, channel.hear, true).catch(() => undefined);
    }
  }

  private publish(key: string, channel: Channel, message: BusMessage): void {
    if (this.closed) return;
    const bytes = encodeBusMessage(message);
    this.publisher.publish(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(() => {
      if (message.kind === 'updates') channel.owed = Math.max(channel.owed ?? 0, message.head);
    });
  }

  private heartbeat(): void {
    if (!this.publisher.isReady) return;
    const bytes = encodeBusMessage({ kind: 'heartbeat', origin: this.instance });
    this.publisher.publish(`${this.options.prefix}instances`, Buffer.from(bytes)).catch(() => undefined);
  }

  private hear(channel: Channel, bytes: Buffer): void {
    const message = this.decode(bytes);
    if (message === null || message.origin === this.instance) return;
    this.watch.heard(message.origin);
    for (const listener of [...channel.listeners]) {
      switch (message.kind) {
        case 'updates':
          this.deliver(() => listener.storedUpdates(message));
          break;
        case 'presence':
          this.deliver(() => listener.presenceChanged(message));
          break;
        case 'want':
          this.deliver(() => listener.presenceWanted());
          break;
        case 'heartbeat':
          break;
      }
    }
  }

  private hearInstance(bytes: Buffer): void {
    const message = this.decode(bytes);
    if (message !== null) this.watch.heard(message.origin);
  }

  private instanceGone(instance: string): void {
    this.options.logger.info({ instance }, 'an instance fell silent on the bus: the presence it owned is removed');
    for (const channel of this.channels.values()) for (const listener of [...channel.listeners]) this.deliver(() => listener.instanceGone(instance));
  }

  /** An instance declared gone was only slow: its presence is asked for on every document. */
  private instanceBack(instance: string): void {
    this.options.logger.info({ instance }, 'an instance that fell silent on the bus is back: asking for presence again');
    for (const [key, channel] of this.channels) this.publish(key, channel, { kind: 'want', origin: this.instance });
  }

  private decode(bytes: Buffer): BusMessage | null {
    try {
      return decodeBusMessage(bytes);
    } catch (error) {
      this.dropped++;
      // Once per power of two: a flood of bad messages does not flood the log.
      if ((this.dropped & (this.dropped - 1)) === 0) {
        this.options.logger.warn({ err: error, dropped: this.dropped }, 'dropped a malformed message heard on the bus');
      }
      return null;
    }
  }

  private deliver(act: () => void): void {
    try {
      act();
    } catch (error) {
      this.options.logger.error({ err: error }, 'a bus message could not be handled');
    }
  }

  private *holders(): Iterable<readonly [string, Iterable<BusListener>]> {
    for (const channel of this.channels.values()) yield [channel.name, channel.listeners];
  }
}
