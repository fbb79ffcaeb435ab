/**
 * The store's journal: an append-only file that makes appends durable with one synchronous
 * `write` per group, on the event loop's own thread, so that no delivery waits for LevelDB's worker
 * thread (docs/decisions/2026-12-07-journal-before-leveldb.md). A group is durable once its records
 * are in the journal (in the page cache, which survives `kill -9`; synced to disk too with `fsync`);
 * LevelDB indexes the same appends in the background. The journal is a series of files of about
 * 1 MiB; a file is deleted once LevelDB has indexed every record in it, and whatever the files hold
 * when the store opens is replayed into LevelDB. The records' format is in `journal-records.ts`.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecords, type JournalRecord, readRecords } from './journal-records.js';

/** Journal files are `collab-journal.<generation>`, inside the LevelDB directory (LevelDB leaves files it did not name alone). */
export const JOURNAL_PREFIX = 'collab-journal.';
/** A journal file past this size is retired: writes go to a new file, and the old one is deleted once indexed. */
const ROTATE_BYTES = 1 << 20;

/** Bytes `probe` writes (zeros) and cuts off again. */
const PROBE_BYTES = 64 * 1024;

/**
 * The journal could not be synced to disk: what its file holds on disk is unknown (after a failed
 * fsync, the kernel may have dropped the pages it could not write), so the journal takes no more
 * writes. Only a restart, replaying what the files hold, goes on from there.
 */
export class JournalSyncError extends Error {
  override readonly name = 'JournalSyncError';
}

/** A file the journal no longer writes to, deleted once every record in it is indexed. */
interface Retired {
  readonly path: string;
  readonly lastSeq: number;
  /** Its length, in bytes. */
  readonly bytes: number;
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
  /** Why the journal takes no more writes: a failed sync (see `JournalSyncError`). */
  private syncFailure: unknown = null;
  /**
   * Why the current file cannot take more records: a failed write left part of a record at its
   * end that could not be cut off, and a record after it would never be read back. The next write
   * goes to a new file.
   */
  private tornTail: unknown = null;
  /** Whether the last attempt to start a new file failed (reported once until one is started). */
  private rotationFailing = false;
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
   * synced before it is retired. `onRotationFailure` hears when a new file cannot be created
   * (see `rotate`), once until one is.
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
      retired.push({ path, lastSeq: read.records.length > 0 ? read.records[read.records.length - 1]!.seq : 0, bytes: bytes.length });
    }
    const journal = new Journal(dir, fsync, (generations[generations.length - 1] ?? 0) + 1, retired, onRotationFailure);
    return { journal, records, ignoredBytes };
  }

  /** The file written to now. */
  get currentPath(): string {
    return this.path;
  }

  /**
   * Bytes the journal's files hold now, the current one and those retired but not yet deleted
   * (waiting for LevelDB to index them): what a restart would read. Kept as the files are written,
   * so reading it costs nothing.
   */
  get bytes(): number {
    let total = this.fd === null ? 0 : this.size;
    for (const file of this.retired) total += file.bytes;
    return total;
  }

  /**
   * Writes the records, all of them, before returning: they then survive the process being
   * killed. Throws (the `write` error) if they could not be written; nothing of them is kept.
   * After a failed sync it throws `JournalSyncError`.
   */
  write(records: readonly JournalRecord[]): void {
    if (this.syncFailure) throw this.syncError();
    if (this.tornTail !== null) this.startFile();
    else if (this.size >= ROTATE_BYTES) this.rotate();
    if (this.syncFailure) throw this.syncError();
    const bytes = encodeRecords(records);
    this.writeAtEnd(bytes);
    this.size += bytes.length;
    this.lastSeq = records[records.length - 1]?.seq ?? this.lastSeq;
  }

  /**
   * Throws unless the journal can take a write again: writes `PROBE_BYTES` at the end of the
   * current file (a new one if its tail is torn) and cuts them off. Zeros read back as the end of
   * the journal, so a crash before the cut loses nothing. After a failed sync it throws
   * `JournalSyncError`: a probe cannot tell what the disk holds.
   */
  probe(): void {
    if (this.syncFailure) throw this.syncError();
    if (this.tornTail !== null) this.startFile();
    this.writeAtEnd(new Uint8Array(PROBE_BYTES));
    this.cutBack();
    if (this.tornTail !== null) this.startFile();
  }

  /**
   * The intact records of every file the journal holds (the current one included) with sequence
   * numbers above `after`, in order: what LevelDB lacks when it has indexed up to `after`.
   */
  readBack(after: number): JournalRecord[] {
    const paths = this.retired.map((file) => file.path);
    if (this.fd !== null) paths.push(this.path);
    const records: JournalRecord[] = [];
    for (const path of paths) {
      for (const record of readRecords(readFileSync(path)).records) if (record.seq > after) records.push(record);
    }
    return records;
  }

  /**
   * Writes `bytes` at the end of the current file (at `size`, wherever the descriptor's offset
   * is). On failure, cuts off what part of them was written, so the next record follows the last
   * intact one, and rethrows.
   */
  private writeAtEnd(bytes: Uint8Array): void {
    const fd = this.descriptor();
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, this.size + written);
    } catch (error) {
      if (written > 0) this.cutBack();
      throw error;
    }
  }

  /** Cuts the current file back to `size`; if that fails, its tail is torn and the next write starts a new file. */
  private cutBack(): void {
    try {
      ftruncateSync(this.descriptor(), this.size);
    } catch (error) {
      this.tornTail = error;
    }
  }

  /**
   * Resolves once everything written before the call is on disk. One fdatasync runs at a time:
   * the calls made while it runs share the next one (a group commit), so a busy store syncs as
   * often as the disk allows rather than once per write, and the calls resolve in order. Once a
   * sync fails, this and every later call reject, and so does every later write.
   */
  sync(): Promise<void> {
    if (this.syncFailure) return Promise.reject(this.syncError());
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
        this.syncFailure ??= error;
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

  private syncError(): JournalSyncError {
    return new JournalSyncError(`the journal ${this.path} could not be synced to disk; it takes no more writes`, { cause: this.syncFailure });
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
   * Moves writing to a new file, if one can be created (see `startFile`): otherwise writes go on
   * into the current one, and the next write tries again, with the next generation's name.
   */
  private rotate(): void {
    try {
      this.startFile();
    } catch (error) {
      if (!this.rotationFailing) this.onRotationFailure(error);
      this.rotationFailing = true;
      return;
    }
    this.rotationFailing = false;
  }

  /**
   * Moves writing to a new file; throws if it cannot be created (no file descriptors or inodes
   * left, say). The new file is created before the current one is retired, so the journal always
   * has a file to write to.
   */
  private startFile(): void {
    const path = this.pathOf(++this.generation);
    const fd = this.createFile(path);
    this.retire();
    this.retired.push({ path: this.path, lastSeq: this.lastSeq, bytes: this.size });
    this.path = path;
    this.fd = fd;
    this.size = 0;
    this.lastSeq = 0;
    this.tornTail = null;
  }

  /**
   * Stops writing to the current file. With `fsync`, or callers of `sync` waiting, the file is
   * synced first, on this thread (once per file): later syncs cover the new file only. Its
   * descriptor is closed once no sync uses it.
   */
  private retire(): void {
    const fd = this.descriptor();
    this.fd = null;
    if ((this.fsync || this.syncWaiters.length > 0) && !this.syncFailure) {
      try {
        fdatasyncSync(fd);
      } catch (error) {
        this.syncFailure = error;
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
