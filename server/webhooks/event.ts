/**
 * Webhook events: the JSON body a receiver gets, and how an event waiting for one receiver is
 * kept in the store's event queue (`persistence/event-queue.ts`).
 *
 * The queue's key is `webhook/<receiver>/<kind>/<document>`: one event per receiver, document and
 * kind, so a newer event replaces one not yet delivered, and a receiver that is down for long gets
 * the latest of each, however many happened meanwhile. `<receiver>` is a hash of its URL (a URL may
 * hold a token, which the store need not see).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { QueuedEvent } from '../../persistence/event-queue.js';

/** What happened to a document. */
export type WebhookEventType = 'document.created' | 'document.updated' | 'document.deleted';

/** The body of a webhook request (JSON, in this key order). */
export interface WebhookEvent {
  /** Unique per event, the same in every attempt and for every receiver: a receiver deduplicates by it. */
  readonly id: string;
  readonly type: WebhookEventType;
  /** The document's name. */
  readonly document: string;
  /** When it happened, ISO 8601 in UTC; for `document.updated`, the first change the event reports. */
  readonly time: string;
}

/** An event waiting for delivery to one receiver, as queued. */
export interface PendingEvent {
  readonly key: string;
  /** The queue record's revision (see `EventQueue`). */
  readonly revision: string;
  /** The receiver's id (`receiverId`). */
  readonly receiver: string;
  readonly event: WebhookEvent;
  /** When it was queued, ms since the epoch: a delivery that still fails a day later is given up. */
  readonly queuedAt: number;
  /** The server instance that delivers it (see `instances.ts`). */
  readonly owner: string;
}

/** The prefix of every webhook event's key in the queue. */
export const EVENT_PREFIX = 'webhook/';

const KINDS: Record<WebhookEventType, string> = { 'document.created': 'created', 'document.updated': 'updated', 'document.deleted': 'deleted' };
const KEY = /^webhook\/([0-9a-f]{16})\/(created|updated|deleted)\/(.+)$/s;

/** A receiver's id: the first 64 bits of the SHA-256 of its URL, in hex. */
export function receiverId(url: string): string {
  return createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 16);
}

/** A new random id (an event's, or a queue record's revision): 128 bits, base64url. */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}

/** The queue key of `type` events of `document` for `receiver`. */
export function eventKey(receiver: string, type: WebhookEventType, document: string): string {
  return `${EVENT_PREFIX}${receiver}/${KINDS[type]}/${document}`;
}

/** The request body of `event`. */
export function eventBody(event: WebhookEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, document: event.document, time: event.time });
}

/** The queue record of `pending` (its data is UTF-8 JSON). */
export function encodePending(pending: PendingEvent): QueuedEvent {
  const { event, queuedAt, owner } = pending;
  return { key: pending.key, revision: pending.revision, data: new TextEncoder().encode(JSON.stringify({ event, queuedAt, owner })) };
}

/** What a queue record holds, or null if it is not a webhook event this version reads. */
export function decodePending(record: QueuedEvent): PendingEvent | null {
  const match = KEY.exec(record.key);
  if (match === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(record.data));
  } catch {
    return null;
  }
  const { event, queuedAt, owner } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const fields = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  const type = `document.${match[2]}` as WebhookEventType;
  if (typeof queuedAt !== 'number' || typeof owner !== 'string' || fields['type'] !== type || fields['document'] !== match[3]) return null;
  if (typeof fields['id'] !== 'string' || typeof fields['time'] !== 'string') return null;
  return {
    key: record.key,
    revision: record.revision,
    receiver: match[1]!,
    event: { id: fields['id'], type, document: match[3]!, time: fields['time'] },
    queuedAt,
    owner,
  };
}
