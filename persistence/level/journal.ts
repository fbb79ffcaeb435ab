/**
 * The store's journal: an append-only file that makes appends durable with one synchronous
 * `write` per group, on the event loop's own thread, so that no delivery waits for LevelDB's worker
 * thread (docs/decisions/2026-12-07-journal-before-leveldb.md). A group is durable once its records
 * are in the journal (in the page cache, which survives `kill -9`; synced to disk too with `fsync`);
 * LevelDB indexes the same appends in the background. The journal is a series of files of about
 * 1 MiB; a file is deleted once LevelDB has indexed every record in it, and whatever the files hold
 * when the store opens is replayed into LevelDB.
 *
 * A record: body length (u32 LE), CRC-32 of the body (u32 LE), body: varuint sequence number,
 * varstring document name, then the update's bytes. Reading stops at the first record that is
 * incomplete or fails its checksum: the tail of a write cut short by a crash.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** One append as the journal holds it. */
export interface JournalRecord {
  readonly seq: number;
  readonly name: string;
  readonly update: Uint8Array;
}

/** Journal files are `collab-journal.<generation>`, inside the LevelDB directory (LevelDB leaves files it did not name alone). */
export const JOURNAL_PREFIX = 'collab-journal.';
/** A journal file past this size is retired: writes go to a new file, and the old one is deleted once indexed. */
const ROTATE_BYTES = 1 << 20;
const HEADER_BYTES = 8;

/** A file the journal no longer writes to, deleted once every record in it is indexed. */
interface Retired {
  readonly path: string;
  readonly lastSeq: number;
}

/** The journal of one data directory (see the top of this file); its owner holds LevelDB's lock. */
export class Journal {
  private fd: number | null = null;
  private path = '';
  private size = 0;
  private generation: number;
  /** The highest sequence number written to the current file. */
  private lastSeq = 0;
  private readonly retired: Retired[];
  /**
   * Why the journal can take no more writes: a failed write whose partial record could not be cut
   * off, or a failed sync (after which what the file holds on disk is unknown).
   */
  private broken: unknown = null;
  /** Whether an fdatasync runs on the thread pool now. */
  private syncing = false;
  /** The callers of `sync` since the running fdatasync began: the next one covers them. */
  private syncWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  /** Descriptors of retired files, closed once the running fdatasync (which may still use one) ends. */
  private closeAfterSync: number[] = [];

  private constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
    generation: number,
    retired: Retired[],
    private readonly onRotationFailure: (error: unknown) => void,
  ) {
    this.generation = generation;
    this.retired = retired;
    this.path = this.pathOf(generation);
    this.fd = this.createFile(this.path);
  }

  /**
   * Opens the journal in `dir` (LevelDB's directory, whose lock keeps other processes out), and
   * returns it with the intact records the files there hold, in order, and the bytes after the
   * last intact record of each (a write cut short by a crash). Those files are deleted by
   * `release` once their records are indexed; new records go to a new file. With `fsync`,
   * creating a file also syncs the directory, so the file survives power loss, and a file is
   * synced before it is retired. `onRotationFailure` hears of each new file that could not be
   * created (see `rotate`).
   */
  static open(
    dir: string,
    fsync = false,
    onRotationFailure: (error: unknown) => void = () => undefined,
  ): { journal: Journal; records: JournalRecord[]; ignoredBytes: number } {
    const generations = readdirSync(dir)
      .filter((entry) => entry.startsWith(JOURNAL_PREFIX) && /^\d+$/.test(entry.slice(JOURNAL_PREFIX.length)))
      .map((entry) => Number(entry.slice(JOURNAL_PREFIX.length)))
      .sort((a, b) => a - b);
    const records: JournalRecord[] = [];
    const retired: Retired[] = [];
    let ignoredBytes = 0;
    for (const generation of generations) {
      const path = join(dir, `${JOURNAL_PREFIX}${generation}`);
      const bytes = readFileSync(path);
      const read = readRecords(bytes);
      records.push(...read.records);
      ignoredBytes += bytes.length - read.length;
      retired.push({ path, lastSeq: read.records.length > 0 ? read.records[read.records.length - 1]!.seq : 0 });
    }
    const journal = new Journal(dir, fsync, (generations[generations.length - 1] ?? 0) + 1, retired, onRotationFailure);
    return { journal, records, ignoredBytes };
  }

  /** The file written to now. */
  get currentPath(): string {
    return this.path;
  }

  /**
   * Writes the records, all of them, before returning: they then survive the process being
   * killed. Throws (the `write` error) if they could not be written; nothing of them is kept.
   */
  write(records: readonly JournalRecord[]): void {
    if (this.broken) throw this.brokenError();
    if (this.size >= ROTATE_BYTES) {
      this.rotate();
      if (this.broken) throw this.brokenError();
    }
    const bytes = encodeRecords(records);
    const fd = this.descriptor();
    let offset = 0;
    try {
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    } catch (error) {
      // Cut off what part of the records did get written, or nothing written after them could be read back.
      try {
        if (offset > 0) ftruncateSync(fd, this.size);
      } catch (repair) {
        this.broken = repair;
      }
      throw error;
    }
    this.size += bytes.length;
    this.lastSeq = records[records.length - 1]?.seq ?? this.lastSeq;
  }

  /**
   * Resolves once everything written before the call is on disk. One fdatasync runs at a time:
   * the calls made while it runs share the next one (a group commit), so a busy store syncs as
   * often as the disk allows rather than once per write, and the calls resolve in order. Once a
   * sync fails, this and every later call reject, and so does every later write.
   */
  sync(): Promise<void> {
    if (this.broken) return Promise.reject(this.brokenError());
    if (this.fd === null) return Promise.reject(new Error(`the journal ${this.path} is closed`));
    const synced = new Promise<void>((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
    if (!this.syncing) this.startSync();
    return synced;
  }

  private startSync(): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    this.syncing = true;
    fdatasync(this.descriptor(), (error) => {
      this.syncing = false;
      for (const fd of this.closeAfterSync.splice(0)) closeSync(fd);
      if (error) {
        this.broken ??= error;
        for (const waiter of [...waiters, ...this.syncWaiters.splice(0)]) waiter.reject(error);
        return;
      }
      for (const waiter of waiters) waiter.resolve();
      if (this.syncWaiters.length === 0) return;
      if (this.fd === null) {
        // Closed meanwhile: `close` synced everything written.
        for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
        return;
      }
      this.startSync();
    });
  }

  private brokenError(): Error {
    return new Error(`the journal ${this.path} could not be written or synced`, { cause: this.broken });
  }

  /** Whether `release(indexedSeq)` would delete a file. */
  releasable(indexedSeq: number): boolean {
    return this.retired.length > 0 && this.retired[0]!.lastSeq <= indexedSeq;
  }

  /** Deletes the retired files whose every record is indexed, i.e. has a sequence number up to `indexedSeq`. */
  release(indexedSeq: number): void {
    while (this.releasable(indexedSeq)) {
      unlinkSync(this.retired[0]!.path);
      this.retired.shift();
    }
  }

  /**
   * Closes the journal. With `indexedSeq` (everything up to it is indexed), deletes every file
   * whose records are all indexed, the current one included; otherwise keeps them for the next open.
   */
  close(indexedSeq?: number): void {
    if (this.fd === null) return;
    this.retire();
    if (indexedSeq === undefined) return;
    this.release(indexedSeq);
    if (this.lastSeq <= indexedSeq) unlinkSync(this.path);
  }

  /**
   * Moves writing to a new file. The new file is created before the current one is retired: if it
   * cannot be (no file descriptors or inodes left, say), writes go on into the current one, and
   * the next write tries again, with the next generation's name. Retiring first left the journal
   * without a file when the creation failed, and every later write, to every document, failed
   * until a restart.
   */
  private rotate(): void {
    const path = this.pathOf(++this.generation);
    let fd: number;
    try {
      fd = this.createFile(path);
    } catch (error) {
      this.onRotationFailure(error);
      return;
    }
    this.retire();
    this.retired.push({ path: this.path, lastSeq: this.lastSeq });
    this.path = path;
    this.fd = fd;
    this.size = 0;
    this.lastSeq = 0;
  }

  /**
   * Stops writing to the current file. With `fsync`, or callers of `sync` waiting, the file is
   * synced first, on this thread (once per file): later syncs cover the new file only. Its
   * descriptor is closed once no sync uses it.
   */
  private retire(): void {
    const fd = this.descriptor();
    this.fd = null;
    if ((this.fsync || this.syncWaiters.length > 0) && !this.broken) {
      try {
        fdatasyncSync(fd);
      } catch (error) {
        this.broken = error;
        for (const waiter of this.syncWaiters.splice(0)) waiter.reject(error);
      }
    }
    if (this.syncing) this.closeAfterSync.push(fd);
    else closeSync(fd);
  }

  private pathOf(generation: number): string {
    return join(this.dir, `${JOURNAL_PREFIX}${generation}`);
  }

  /** Creates the file at `path` and returns its descriptor; with `fsync`, syncs the directory too, so the file survives power loss. */
  private createFile(path: string): number {
    const fd = openSync(path, 'wx');
    if (!this.fsync) return fd;
    try {
      const dirFd = openSync(this.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (error) {
      // Not known to be on disk: not used. Left behind if it cannot be deleted, it is read (empty) at the next open.
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // the error that matters is the sync's
      }
      throw error;
    }
    return fd;
  }

  private descriptor(): number {
    if (this.fd === null) throw new Error(`the journal ${this.path} is closed`);
    return this.fd;
  }
}

/** The records as the journal writes them, one after the other (the inverse of `readRecords`). */
export function encodeRecords(records: readonly JournalRecord[]): Uint8Array {
  const encoder = encoding.createEncoder();
  for (const { seq, name, update } of records) {
    const body = encoding.createEncoder();
    encoding.writeVarUint(body, seq);
    encoding.writeVarString(body, name);
    encoding.writeUint8Array(body, update);
    const bytes = encoding.toUint8Array(body);
    encoding.writeUint32(encoder, bytes.length);
    encoding.writeUint32(encoder, crc32(bytes));
    encoding.writeUint8Array(encoder, bytes);
  }
  return encoding.toUint8Array(encoder);
}

/** The complete, intact records at the start of `bytes` (it stops at the first that is not), and the bytes they span. */
export function readRecords(bytes: Uint8Array): { records: JournalRecord[]; length: number } {
  const records: JournalRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = view.getUint32(offset, true);
    const checksum = view.getUint32(offset + 4, true);
    const start = offset + HEADER_BYTES;
    if (length === 0 || start + length > bytes.length) break;
    const body = bytes.subarray(start, start + length);
    if (crc32(body) !== checksum) break;
    try {
      const decoder = decoding.createDecoder(body);
      const seq = decoding.readVarUint(decoder);
      const name = decoding.readVarString(decoder);
      records.push({ seq, name, update: new Uint8Array(body.subarray(decoder.pos)) });
    } catch {
      break; // a body that passed its checksum but does not decode: written by something else
    }
    offset = start + length;
  }
  return { records, length: offset };
}
