/**
 * Delivery to one webhook URL: the events waiting for it, sent as signed POSTs, retried until it
 * answers 2xx.
 *
 * - Up to `concurrency` requests at once while the receiver answers. Once one fails, the receiver
 *   is failing: one request at a time (a probe), after an exponential backoff with jitter (1 s,
 *   doubling, at most 10 min, each delay drawn from its upper half), the failed event moved to the
 *   back so that one event the receiver refuses does not hold up the others. The first success
 *   ends it, and everything waiting goes out.
 * - An event still failing a day after it was queued is given up: logged at warn, removed.
 * - Delivered, an event's queue record is removed, unless a newer event of the same key replaced
 *   it meanwhile (compare-and-set on its revision): the newer one is delivered in turn.
 *
 * Events enter held, or unwritten: an event goes out only once its queue record is written (so a
 * delivered event is never queued again after its removal) and, for `document.updated`, once its
 * window has closed (`release`).
 */
import type { EventQueue } from '../../persistence/event-queue.js';
import type { Logger } from '../logger.js';
import { VERSION } from '../version.js';
import { eventBody, type PendingEvent } from './event.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';

/** How deliveries are paced; see the top of this file for the defaults. */
export interface DeliveryTiming {
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** How long after it was queued an event that keeps failing is given up. */
  readonly giveUpMs: number;
  /** How long one request may take before it counts as failed. */
  readonly requestTimeoutMs: number;
  readonly concurrency: number;
}

export const DEFAULT_DELIVERY: DeliveryTiming = {
  retryBaseMs: 1000,
  retryMaxMs: 10 * 60_000,
  giveUpMs: 24 * 3_600_000,
  requestTimeoutMs: 10_000,
  concurrency: 4,
};

/** Counts of one receiver's deliveries since the start, for metrics. */
export interface DeliveryCounts {
  delivered: number;
  failed: number;
  givenUp: number;
}

interface Entry {
  readonly pending: PendingEvent;
  held: boolean;
  written: boolean;
  attempts: number;
}

/** The deliveries to one URL (see the top of this file). */
export class Receiver {
  readonly counts: DeliveryCounts = { delivered: 0, failed: 0, givenUp: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Keys of entries that may go out, in the order they go. */
  private readonly ready = new Set<string>();
  private readonly sending = new Map<string, Promise<void>>();
  /** Removals of delivered or given-up events from the queue, for `close` to wait for. */
  private readonly removals = new Set<Promise<unknown>>();
  private failures = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private closed = false;
  /** The URL as logs show it: without its query, which may hold a token. */
  readonly shown: string;

  constructor(
    readonly id: string,
    private readonly url: string,
    private readonly secret: string,
    private readonly store: EventQueue,
    private readonly logger: Logger,
    private readonly timing: DeliveryTiming,
  ) {
    const parsed = new URL(url);
    this.shown = parsed.origin + parsed.pathname;
  }

  /** Events waiting for this receiver (held ones too). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether an event is waiting under `key`. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Takes `pending` in, in place of any event of its key; it goes out once `stored` and, if `held`, released. */
  put(pending: PendingEvent, held: boolean, written = false): void {
    this.entries.set(pending.key, { pending, held, written, attempts: 0 });
    this.ready.delete(pending.key);
    if (!held && written) this.enqueue(pending.key);
  }

  /** The queue record of `pending` is written (or could not be: it goes out from memory then). */
  stored(pending: PendingEvent): void {
    const entry = this.entries.get(pending.key);
    if (entry?.pending !== pending) return;
    entry.written = true;
    if (!entry.held) this.enqueue(pending.key);
  }

  /** The window of the event under `key` closed: it may go out. */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined || !entry.held) return;
    entry.held = false;
    if (entry.written) this.enqueue(key);
  }

  /** Stops: no new request; those in flight are aborted (their events stay queued). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.abort.abort();
    await Promise.allSettled([...this.sending.values()]);
    await Promise.allSettled([...this.removals]);
  }

  private enqueue(key: string): void {
    this.ready.add(key);
    this.pump();
  }

  /** Sends what may go now: as many as the concurrency allows, one while failing, none before the retry time. */
  private pump(): void {
    if (this.closed) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const wait = this.failures > 0 ? this.retryAt - Date.now() : 0;
    if (wait > 0) {
      if (this.ready.size > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        this.timer.unref();
      }
      return;
    }
    const limit = this.failures > 0 ? 1 : this.timing.concurrency;
    for (const key of this.ready) {
      if (this.sending.size >= limit) break;
      // A newer event of a key in flight waits for that request to end.
      if (this.sending.has(key)) continue;
      this.ready.delete(key);
      this.send(this.entries.get(key)!);
    }
  }

  private send(entry: Entry): void {
    const { key } = entry.pending;
    entry.attempts++;
    const started = performance.now();
    const request = this.post(entry.pending)
      .then(
        (status) => this.delivered(entry, status, performance.now() - started),
        (error: unknown) => this.failed(entry, reasonOf(error)),
      )
      .finally(() => {
        this.sending.delete(key);
        this.pump();
      });
    this.sending.set(key, request);
  }

  /** POSTs the event, signed; resolves with a 2xx status, else rejects. */
  private async post({ event }: PendingEvent): Promise<number> {
    const body = eventBody(event);
    const response = await fetch(this.url, {
      method: 'POST',
      body,
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        'user-agent': `collab-server/${VERSION}`,
        'x-collab-event': event.type,
        'x-collab-event-id': event.id,
        [SIGNATURE_HEADER]: signatureHeader(this.secret, body, Math.floor(Date.now() / 1000)),
      },
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timing.requestTimeoutMs)]),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status > 299) throw new Error(`answered ${response.status}`);
    return response.status;
  }

  private delivered(entry: Entry, status: number, ms: number): void {
    const { pending } = entry;
    this.counts.delivered++;
    if (this.failures > 0) this.logger.info({ webhook: this.shown, failures: this.failures }, 'the webhook receiver answers again');
    this.failures = 0;
    this.logger.debug(
      {
        webhook: this.shown,
        event: pending.event.id,
        type: pending.event.type,
        doc: pending.event.document,
        status,
        attempt: entry.attempts,
        ms: Math.round(ms),
      },
      'delivered a webhook',
    );
    this.forget(entry);
  }

  private failed(entry: Entry, reason: string): void {
    if (this.closed) return;
    const { pending } = entry;
    const now = Date.now();
    this.counts.failed++;
    this.failures++;
    const delay = backoff(this.failures, this.timing);
    this.retryAt = now + delay;
    if (this.failures === 1) this.logger.info({ webhook: this.shown, reason }, 'a webhook delivery failed: retrying with backoff');
    this.logger.debug(
      {
        webhook: this.shown,
        event: pending.event.id,
        type: pending.event.type,
        doc: pending.event.document,
        attempt: entry.attempts,
        reason,
        retryInMs: delay,
      },
      'webhook delivery failed',
    );
    // To the back, unless a newer event of its key replaced it meanwhile.
    if (this.entries.get(pending.key) === entry && !this.expired(entry, now, reason)) this.ready.add(pending.key);
    for (const other of [...this.entries.values()]) if (other !== entry && !this.sending.has(other.pending.key)) this.expired(other, now, reason);
  }

  /** Gives `entry` up if it was queued `giveUpMs` ago; returns whether it did. */
  private expired(entry: Entry, now: number, reason: string): boolean {
    const { pending } = entry;
    if (now - pending.queuedAt < this.timing.giveUpMs) return false;
    this.counts.givenUp++;
    this.logger.warn(
      {
        webhook: this.shown,
        event: pending.event.id,
        type: pending.event.type,
        doc: pending.event.document,
        attempts: entry.attempts,
        queuedAt: new Date(pending.queuedAt).toISOString(),
        reason,
      },
      `gave up a webhook: its receiver has not taken it since it was queued ${Math.round((now - pending.queuedAt) / 60_000)} min ago`,
    );
    this.forget(entry);
    return true;
  }

  /** Drops `entry` and removes its queue record, unless a newer event replaced it. */
  private forget(entry: Entry): void {
    const { key, revision } = entry.pending;
    if (this.entries.get(key) === entry) {
      this.entries.delete(key);
      this.ready.delete(key);
    }
    const removal = this.store.removeEvent(key, revision).catch((error: unknown) => {
      // Kept in the queue, it goes out once more after the next start: at least once.
      this.logger.warn({ err: error, webhook: this.shown, event: entry.pending.event.id }, 'could not remove a handled webhook event from the queue');
    });
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }
}

/** The delay before the retry after `failures` failures in a row: exponential, capped, drawn from its upper half. */
export function backoff(failures: number, timing: Pick<DeliveryTiming, 'retryBaseMs' | 'retryMaxMs'>): number {
  const ceiling = Math.min(timing.retryMaxMs, timing.retryBaseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Why a request failed, in a few words: a status, a timeout, or the network's error code. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = error.cause as NodeJS.ErrnoException | undefined;
  if (cause?.code !== undefined) return cause.code;
  return error.message;
}
