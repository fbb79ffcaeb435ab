/**
 * A durable queue of events, as a store keeps it: records that the webhooks (`server/webhooks/`)
 * write, read back and remove once delivered, and that a store keeps without looking inside.
 *
 * At most one event is queued per key: a newer one replaces it. Its owner chooses the keys, so it
 * bounds the queue (webhooks key by receiver, document and kind: a receiver down for a week gets
 * the latest event of each, not every one). Every write gives the record a new revision, chosen by
 * the caller; a write or a removal may be made conditional on the revision queued under its key
 * (compare-and-set), so that several processes sharing one store can claim, update and remove
 * events without a lock, and an event delivered while a newer one replaced it is not removed with
 * it. What a store promises: each call is atomic, durable once it resolves (as an append is:
 * through `kill -9`, and power loss with `fsync`), and records come back as written.
 */

/** One queued event. */
export interface QueuedEvent {
  /** What the event is about: at most one event is queued per key. 1 to 8192 characters, no U+0000 or lone surrogate. */
  readonly key: string;
  /** This write of the key, unique among its writes (random): what conditional calls compare. */
  readonly revision: string;
  /** The event, as its owner encodes it. */
  readonly data: Uint8Array;
}

/** Which events `listEvents` gives, in key order (by code point). */
export interface EventListOptions {
  /** Only keys that start with this. */
  readonly prefix?: string;
  /** Only keys after this one (the last of the previous page). */
  readonly after?: string;
  /** At most this many. */
  readonly limit?: number;
}

/** The event queue part of a `DocumentStore`. */
export interface EventQueue {
  /**
   * Queues `event` under its key, replacing what is queued there. With `expected` a revision, only
   * if the event queued under the key has that revision; with `expected` null, only if none is
   * queued. Resolves true once written, false (nothing written) when the condition does not hold.
   */
  putEvent(event: QueuedEvent, expected?: string | null): Promise<boolean>;

  /** Removes the event queued under `key` if its revision is `revision`; resolves whether it did. */
  removeEvent(key: string, revision: string): Promise<boolean>;

  /** The queued events, as `options` say; reflects every `putEvent` and `removeEvent` that resolved. */
  listEvents(options?: EventListOptions): Promise<QueuedEvent[]>;
}

/** The longest event key a store takes. */
export const MAX_EVENT_KEY = 8192;
const REVISION = /^[0-9A-Za-z_-]{1,64}$/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Throws unless `event` could be queued: RangeError for a key that is empty, longer than
 * `MAX_EVENT_KEY`, or holds U+0000 or a lone surrogate, or a revision that is not 1 to 64 of
 * `0-9A-Za-z_-`; TypeError for data that is not a Uint8Array.
 */
export function checkEvent(event: QueuedEvent, expected?: string | null): void {
  checkEventKey(event.key);
  checkRevision(event.revision);
  if (!(event.data instanceof Uint8Array)) throw new TypeError("An event's data must be a Uint8Array");
  if (typeof expected === 'string') checkRevision(expected);
}

/** Throws RangeError for a key no store takes (see `checkEvent`). */
export function checkEventKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_EVENT_KEY) {
    throw new RangeError(`an event key must be 1 to ${MAX_EVENT_KEY} characters`);
  }
  if (key.includes('\u0000') || LONE_SURROGATE.test(key)) throw new RangeError(`event key ${JSON.stringify(key)} holds U+0000 or a lone surrogate`);
}

/** Throws RangeError for a revision no store takes (see `checkEvent`). */
export function checkRevision(revision: string): void {
  if (typeof revision !== 'string' || !REVISION.test(revision))
    throw new RangeError(`${JSON.stringify(revision)} is not an event revision: 1 to 64 of 0-9, A-Z, a-z, _ and -`);
}
