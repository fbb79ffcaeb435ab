/**
 * What a `LevelDocumentStore` reads of a document, each from one snapshot of the database, so a
 * compaction committing between two reads cannot hide the updates it compacted (old state + new,
 * empty log).
 */
import type { LoggedUpdate, Position, StoredDocument } from '../document-store.js';
import { decodeMeta, type LevelDatabase, logEnd, logFirst, logKey, metaKey, seqOfLogKey, stateKey } from './keys.js';

/** The state, the log and the head of `name`. */
export async function readDocument(db: LevelDatabase, name: string): Promise<StoredDocument> {
  const snapshot = db.snapshot();
  try {
    const state = await db.get<string, Uint8Array>(stateKey(name), { snapshot });
    const meta = await db.get<string, Uint8Array>(metaKey(name), { snapshot });
    const updates = await db.values<string, Uint8Array>({ gt: logFirst(name), lt: logEnd(name), snapshot }).all();
    const [lastKey] = await db.keys<string>({ gt: logFirst(name), lt: logEnd(name), reverse: true, limit: 1, snapshot }).all();
    const decoded = meta === undefined ? null : decodeMeta(meta);
    const statePosition = decoded === null ? 0 : Math.max(0, decoded.statePosition);
    const head = Math.max(statePosition, lastKey === undefined ? 0 : seqOfLogKey(lastKey));
    return { state: state === undefined ? null : plain(state), updates: updates.map(plain), head, deletedAt: decoded?.deletedAt ?? null };
  } finally {
    await snapshot.close();
  }
}

/**
 * The updates of `name` after `after`; null when its state holds some of them in place of the log, or has a position
 * not recorded (written before positions were).
 */
export async function readLogSince(db: LevelDatabase, name: string, after: Position): Promise<LoggedUpdate[] | null> {
  const snapshot = db.snapshot();
  try {
    const meta = await db.get<string, Uint8Array>(metaKey(name), { snapshot });
    if (meta !== undefined) {
      const { statePosition } = decodeMeta(meta);
      if (statePosition < 0 || statePosition > after) return null;
    }
    const entries = await db.iterator<string, Uint8Array>({ gt: logKey(name, after), lt: logEnd(name), snapshot }).all();
    return entries.map(([key, update]) => ({ position: seqOfLogKey(key), update: plain(update) }));
  } finally {
    await snapshot.close();
  }
}

/**
 * classic-level returns Buffers; hand out plain Uint8Array views of the same memory, because a
 * Buffer's `slice` shares memory where a Uint8Array's copies, a difference callers should not meet.
 */
function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
