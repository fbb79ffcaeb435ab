/**
 * The event queue of `LevelDocumentStore` (`event-queue.ts` says what it is): one record per key,
 * under `e\0<key>`, holding the revision (a varString) and then the event's bytes.
 *
 * Writes are tasks of the store's writer (`write-queue.ts`), which runs one task at a time: a
 * conditional write reads the revision and writes in the same task, so nothing can come between.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Deferred } from '../deferred.js';
import type { EventListOptions, QueuedEvent } from '../event-queue.js';
import { EVENT_END, EVENT_FIRST, type LevelDatabase } from './keys.js';

/** A write to the queue, as the writer runs it. */
export interface EventTask {
  readonly kind: 'event';
  readonly key: string;
  /** What to write under the key: an event, or null to remove what is there. */
  readonly event: QueuedEvent | null;
  /** The condition: undefined for none, null for "nothing queued", else the revision queued. */
  readonly expected: string | null | undefined;
  readonly done: Deferred;
  /** Set once run: whether the condition held and the write was made. */
  applied: boolean;
}

/** Runs `task` (within the writer: nothing else writes meanwhile); `sync` syncs LevelDB's log. */
export async function writeEvent(db: LevelDatabase, task: EventTask, sync: boolean): Promise<void> {
  const key = EVENT_FIRST + task.key;
  if (task.expected !== undefined) {
    const current = await db.get(key);
    const revision = current === undefined ? null : decodeEvent(task.key, current).revision;
    if (revision !== task.expected) {
      task.applied = false;
      return;
    }
  }
  if (task.event === null) await db.del(key, { sync });
  else await db.put(key, encodeEvent(task.event), { sync });
  task.applied = true;
}

/** The queued events in key order (UTF-8 byte order of the keys, which is code point order), as `options` say. */
export async function readEvents(db: LevelDatabase, { prefix = '', after, limit = Number.POSITIVE_INFINITY }: EventListOptions): Promise<QueuedEvent[]> {
  const from = after !== undefined && after >= prefix ? { gt: EVENT_FIRST + after } : { gte: EVENT_FIRST + prefix };
  const events: QueuedEvent[] = [];
  if (limit <= 0) return events;
  for await (const [stored, value] of db.iterator({ ...from, lt: EVENT_END })) {
    const key = stored.slice(EVENT_FIRST.length);
    if (!key.startsWith(prefix)) break;
    events.push(decodeEvent(key, value));
    if (events.length >= limit) break;
  }
  return events;
}

function encodeEvent(event: QueuedEvent): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarString(encoder, event.revision);
  encoding.writeUint8Array(encoder, event.data);
  return encoding.toUint8Array(encoder);
}

/** Throws if the record is not an event. */
function decodeEvent(key: string, bytes: Uint8Array): QueuedEvent {
  try {
    const decoder = decoding.createDecoder(bytes);
    const revision = decoding.readVarString(decoder);
    // A copy: the record's buffer belongs to LevelDB's read.
    return { key, revision, data: new Uint8Array(bytes.subarray(decoder.pos)) };
  } catch (cause) {
    throw new Error(`Corrupt store: the queued event ${JSON.stringify(key)} is not one`, { cause });
  }
}
