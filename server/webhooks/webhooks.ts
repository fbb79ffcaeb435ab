/**
 * Webhooks: `document.created`, `document.updated` and `document.deleted`, POSTed as signed JSON
 * to every `--webhook-url`, at least once (docs/operations.md, Webhooks; why this way:
 * docs/decisions/2026-12-07-webhooks.md).
 *
 * An event is queued in the store (`EventQueue`) before it is sent, one record per receiver, and
 * its record removed once the receiver took it (`receiver.ts`): pending events outlive a restart
 * and a `kill -9`, and each start sends what the queue holds. `document.updated` is queued when
 * its window opens (`windows.ts`), held until it closes: a crash within the window loses nothing,
 * and a start sends what was held. Queued by key (receiver, document, kind), the queue holds at
 * most one event of each.
 *
 * Where the store is shared with other instances (`shared`), each sends the events it queued, and
 * those of dead instances are taken over by one of the others (`instances.ts`), checked at the
 * start and every `adoptMs`.
 */
import type { EventQueue } from '../../persistence/event-queue.js';
import type { DocumentEvents } from '../sync/document-events.js';
import type { Logger } from '../logger.js';
import { decodePending, EVENT_PREFIX, encodePending, eventKey, newId, type PendingEvent, receiverId, type WebhookEventType } from './event.js';
import { Instances } from './instances.js';
import { DEFAULT_DELIVERY, type DeliveryCounts, type DeliveryTiming, Receiver } from './receiver.js';
import { UpdateWindows } from './windows.js';

/** Every pace of the webhooks: the update windows, deliveries, and the hand-over between instances. */
export interface WebhookTiming extends DeliveryTiming {
  /** `document.updated` goes out once changes pause this long (2 s)... */
  readonly quietMs: number;
  /** ...or at the latest this long after the first change it reports (10 s). */
  readonly maxMs: number;
  /** With a shared store: how often an instance says it is alive (10 s)... */
  readonly heartbeatMs: number;
  /** ...and looks for events of dead instances to take over (30 s). */
  readonly adoptMs: number;
}

export const DEFAULT_TIMING: WebhookTiming = { ...DEFAULT_DELIVERY, quietMs: 2000, maxMs: 10_000, heartbeatMs: 10_000, adoptMs: 30_000 };

export interface WebhookOptions {
  /** The receivers (http or https URLs); at least one. */
  readonly urls: readonly string[];
  /** The key of the signatures (see `signature.ts`). */
  readonly secret: string;
  readonly logger: Logger;
  /** Whether other instances share the store; by default this process owns every queued event. */
  readonly shared?: boolean;
  readonly timing?: Partial<WebhookTiming>;
}

/** The webhooks of one server (see the top of this file); `close` before the store closes. */
export class Webhooks implements DocumentEvents {
  private readonly receivers: Receiver[];
  private readonly windows: UpdateWindows;
  private readonly instances: Instances | null;
  private readonly logger: Logger;
  /** Queue writes under way, for `close` to wait for. */
  private readonly writes = new Set<Promise<unknown>>();
  private readonly started: Promise<void>;
  private adoption: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: EventQueue,
    options: WebhookOptions,
  ) {
    const timing = { ...DEFAULT_TIMING, ...options.timing };
    this.logger = options.logger;
    this.receivers = [...new Set(options.urls)].map((url) => new Receiver(receiverId(url), url, options.secret, store, options.logger, timing));
    this.windows = new UpdateWindows(timing.quietMs, timing.maxMs, {
      opened: (name, at) => void this.raise('document.updated', name, at, true),
      closed: (name) => {
        this.logger.debug({ doc: name }, 'a document.updated webhook is due: its changes paused, or went on for long');
        for (const receiver of this.receivers) receiver.release(eventKey(receiver.id, 'document.updated', name));
      },
    });
    this.instances = options.shared ? new Instances(newId(), store, options.logger, timing) : null;
    options.logger.info(
      { webhooks: this.receivers.map((receiver) => receiver.shown) },
      `webhooks go to ${this.receivers.map((receiver) => receiver.shown).join(', ')}`,
    );
    this.started = this.start(timing.adoptMs);
  }

  /** Events waiting, for every receiver together. */
  get pending(): number {
    return this.receivers.reduce((sum, receiver) => sum + receiver.size, 0);
  }

  /** Deliveries since the start, for every receiver together. */
  get counts(): DeliveryCounts {
    const counts = { delivered: 0, failed: 0, givenUp: 0 };
    for (const receiver of this.receivers) for (const key of ['delivered', 'failed', 'givenUp'] as const) counts[key] += receiver.counts[key];
    return counts;
  }

  edited(name: string, created: boolean): void {
    // The first write is reported by `document.created`; the window opens at the next.
    if (created) void this.raise('document.created', name, Date.now(), false);
    else this.windows.changed(name);
  }

  deleted(name: string): Promise<void> {
    return this.raise('document.deleted', name, Date.now(), false);
  }

  /**
   * Stops: open windows stay held in the queue (the next start sends them), requests in flight are
   * aborted (their events stay queued), queue writes under way end. Call before the store closes.
   */
  async close(): Promise<void> {
    if (this.adoption !== null) clearInterval(this.adoption);
    this.windows.close();
    await this.started;
    await Promise.all(this.receivers.map((receiver) => receiver.close()));
    await Promise.allSettled([...this.writes]);
    await this.instances?.close();
  }

  /** Queues an event for every receiver; resolves once its records are written (or could not be). Never rejects. */
  private raise(type: WebhookEventType, document: string, at: number, held: boolean): Promise<void> {
    const event = { id: newId(), type, document, time: new Date(at).toISOString() };
    const owner = this.instances?.self ?? 'local';
    const written = this.receivers.map((receiver) => {
      const pending: PendingEvent = {
        key: eventKey(receiver.id, type, document),
        revision: newId(),
        receiver: receiver.id,
        event,
        queuedAt: Date.now(),
        owner,
      };
      receiver.put(pending, held);
      return this.track(this.store.putEvent(encodePending(pending))).then(
        () => {
          this.logger.debug({ webhook: receiver.shown, event: event.id, type, doc: document }, 'queued a webhook event');
          receiver.stored(pending);
        },
        (error: unknown) => {
          this.logger.error({ err: error, type, doc: document }, 'could not queue a webhook event: it is sent from memory, and lost if the server stops first');
          receiver.stored(pending);
        },
      );
    });
    return Promise.all(written).then(() => undefined);
  }

  private async start(adoptMs: number): Promise<void> {
    try {
      await this.instances?.start();
      await this.resume();
    } catch (error) {
      this.logger.error({ err: error }, 'could not read the queued webhook events: they are sent after the next start');
    }
    if (this.instances !== null) {
      this.adoption = setInterval(
        () => void this.resume().catch((error: unknown) => this.logger.warn({ err: error }, 'could not look for webhook events to take over')),
        adoptMs,
      );
      this.adoption.unref();
    }
  }

  /**
   * Takes in what the queue holds for this instance: every event of a store this process owns;
   * with a shared store, the events of instances no longer alive, each won by compare-and-set.
   * Events of receivers no longer configured are removed (not with a shared store: another
   * instance may still have them).
   */
  private async resume(): Promise<void> {
    const receivers = new Map(this.receivers.map((receiver) => [receiver.id, receiver]));
    const alive = this.instances === null ? null : await this.instances.alive();
    let resumed = 0;
    let dropped = 0;
    for (let after: string | undefined; ; ) {
      const page = await this.store.listEvents({ prefix: EVENT_PREFIX, limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const record of page) {
        const found = decodePending(record);
        const receiver = found === null ? undefined : receivers.get(found.receiver);
        if (found === null || receiver === undefined) {
          if (alive !== null) continue;
          dropped++;
          this.track(this.store.removeEvent(record.key, record.revision)).catch(() => undefined);
          continue;
        }
        // A newer event of the key was raised since: it replaced this one.
        if (receiver.has(found.key)) continue;
        let pending = found;
        if (alive !== null) {
          if (alive.has(found.owner)) continue;
          pending = { ...found, revision: newId(), owner: this.instances!.self };
          if (!(await this.track(this.store.putEvent(encodePending(pending), found.revision)))) continue;
        }
        receiver.put(pending, false, true);
        resumed++;
      }
      if (page.length < 1000) break;
      after = page.at(-1)!.key;
    }
    if (resumed > 0) this.logger.info({ resumed }, `sending ${resumed} webhook event(s) queued before`);
    if (dropped > 0) this.logger.info({ dropped }, `dropped ${dropped} queued webhook event(s) for URLs no longer configured`);
  }

  private track<T>(write: Promise<T>): Promise<T> {
    this.writes.add(write);
    const forget = (): void => void this.writes.delete(write);
    write.then(forget, forget);
    return write;
  }
}
