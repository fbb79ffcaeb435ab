/**
 * Opening a `LevelDocumentStore`: LevelDB (refused if another process holds it, or it holds
 * another program's data or a format this version does not read), then the journal, and what the
 * journal holds that LevelDB has not indexed.
 */
import { StoreOpenError } from '../document-store.js';
import { checkStorageFormat } from './format.js';
import { Journal } from './journal.js';
import type { JournalRecord } from './journal-records.js';
import { type LevelDatabase, readIndexedSeq } from './keys.js';

/** Options of `LevelDocumentStore.open`. */
export interface LevelStoreOptions {
  /**
   * Sync journal writes to disk before their appends resolve. Default `false`: a write is then in
   * the operating system's page cache when it resolves, which survives the process being killed
   * (`kill -9`) but not a power loss or kernel crash. `true` survives those too. One fdatasync
   * runs at a time, shared by every journal write made while the one before ran; LevelDB syncs
   * its own copy before a journal file is deleted, and compactions and deletions as they are written.
   */
  readonly fsync?: boolean;
  /**
   * Least time in milliseconds between the starts of two LevelDB batches that index appends.
   * Default 0: a batch starts as soon as the previous one is written. Appends are durable once
   * journaled, so this delays only when a document loaded meanwhile can be read (at most the
   * interval); each batch costs a hand-off to LevelDB's thread whatever its size.
   */
  readonly batchIntervalMs?: number;
  /**
   * Hears of trouble that loses nothing and fails no write, for the log: a new journal file that
   * could not be created (writes then go on into the current one, and the next write tries again;
   * said once until one is created).
   */
  readonly onWarning?: (message: string, error: unknown) => void;
  /** LevelDB table files kept open at most (classic-level's `maxOpenFiles`, default 1000): its share of descriptors. */
  readonly maxOpenFiles?: number;
}

/** What opening the store found in its journal. */
export interface JournalRecovery {
  /** Appends the journal held that LevelDB had not indexed, now indexed. */
  readonly replayed: number;
  /** Bytes at the journal's end that held no intact record (a write cut short by a crash). */
  readonly ignoredBytes: number;
}

/** An open database and journal, and the records to replay (see `openJournaled`). */
export interface Journaled {
  readonly journal: Journal;
  /** The last sequence number LevelDB has indexed. */
  readonly indexed: number;
  /** The journal's records past it, in order: LevelDB lacks them. */
  readonly unindexed: JournalRecord[];
  /** The highest sequence number in use. */
  readonly lastSeq: number;
  /** Bytes at the journal's end that held no intact record (a write cut short by a crash). */
  readonly ignoredBytes: number;
}

/**
 * Opens `db` and the journal beside it. Rejects, with both closed, if LevelDB cannot open; with
 * `StoreOpenError` if another process holds it, or it holds another program's database or a
 * storage format this version does not read (see `format.ts`).
 */
export async function openJournaled(db: LevelDatabase, options: LevelStoreOptions): Promise<Journaled> {
  try {
    await db.open().catch((error: unknown) => {
      throw isLocked(error)
        ? new StoreOpenError(`The data directory ${db.location} is in use by another process: is another collab-server running on it?`, { cause: error })
        : error;
    });
    // Before anything is read or written: another program's database, or a format this
    // version does not know, is refused untouched.
    await checkStorageFormat(db);
    const indexed = await readIndexedSeq(db);
    // Only now, with LevelDB's lock held: no other process has this journal open.
    const warn = options.onWarning;
    const { journal, records, ignoredBytes } = Journal.open(db.location, options.fsync ?? false, (error) =>
      warn?.('could not start a new journal file; writes go on into the current one, and each write tries again', error),
    );
    // Records up to the stored sequence number were indexed before the journal was last emptied.
    const unindexed = records.filter((record) => record.seq > indexed);
    const lastSeq = Math.max(indexed, unindexed[unindexed.length - 1]?.seq ?? 0);
    return { journal, indexed, unindexed, lastSeq, ignoredBytes };
  } catch (error) {
    // Report the failure to open, not a failure to close what did not open.
    await db.close().catch(() => undefined);
    throw error;
  }
}

/** LevelDB refused to open because another process (or store) holds the directory's lock. */
function isLocked(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'LEVEL_LOCKED';
}
