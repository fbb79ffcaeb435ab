/**
 * Restoring a backup archive (`archive.ts`) into a new data directory, for a server started on it
 * afterwards. The directory must be absent or empty: a restore never merges into documents that
 * exist. The archive is read twice: once whole, to check it (a truncated or corrupt one is refused
 * before anything is written), then to write it.
 *
 * Each document becomes one update of its log (its whole state, as backed up). Versions are kept
 * as they were, except their `position`, which pointed into the old server's log: it becomes 0
 * (before every update of the new log), so the history never takes a restored version for the
 * current content.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import type { VersionRecord } from '../../persistence/versions.js';
import { validateDocumentName } from '../../protocol/document-name.js';
import { readArchive } from './archive.js';
import { Progress } from './progress.js';

/** Appends written together, at most: a group commit of this many documents or bytes. */
const BATCH_DOCUMENTS = 200;
const BATCH_BYTES = 16 * 1024 ** 2;

/** What a restore wrote. */
export interface Restored {
  readonly documents: number;
  readonly versions: number;
}

/** Restores `file` into `dir` (see the top of this file); throws, having changed nothing, when it cannot. */
export async function restoreArchive(file: string, dir: string): Promise<Restored> {
  const existed = await checkEmpty(dir);
  const checking = new Progress('checking the archive');
  try {
    for await (const record of readArchive(archiveFile(file, checking))) {
      if (record.type === 'document') checking.documents++;
      else if (record.type === 'version') checking.versions++;
      checking.tick();
    }
  } catch (error) {
    throw new Error(`${file} cannot be restored, nothing was written: ${(error as Error).message}`);
  }

  await mkdir(dir, { recursive: true });
  const store = await LevelDocumentStore.open(dir, { fsync: true });
  try {
    const restored = await write(store, file);
    await store.close();
    return restored;
  } catch (error) {
    await store.close().catch(() => undefined);
    // What was written goes: a half-restored directory is worse than none.
    if (existed) for (const entry of await readdir(dir)) await rm(`${dir}/${entry}`, { recursive: true, force: true });
    else await rm(dir, { recursive: true, force: true });
    throw new Error(`the restore failed, and ${dir} was left as it was: ${(error as Error).message}`);
  }
}

async function write(store: LevelDocumentStore, file: string): Promise<Restored> {
  const progress = new Progress('restore');
  let appends: Promise<unknown>[] = [];
  let batchBytes = 0;
  let versions: VersionRecord[] = [];
  let current: string | null = null;
  const writeVersions = async () => {
    if (current !== null && versions.length > 0) await store.writeVersions(current, { put: versions });
    versions = [];
  };
  for await (const record of readArchive(archiveFile(file, progress))) {
    if (record.type === 'document') {
      await writeVersions();
      const { name, state } = record.entry;
      validateDocumentName(name, 4096);
      current = name;
      appends.push(store.append(name, state));
      batchBytes += state.length;
      progress.documents++;
      if (appends.length >= BATCH_DOCUMENTS || batchBytes >= BATCH_BYTES) {
        await Promise.all(appends);
        appends = [];
        batchBytes = 0;
      }
    } else if (record.type === 'version') {
      versions.push({ ...record.entry.info, position: 0, data: record.entry.data });
      progress.versions++;
    }
    progress.tick();
  }
  await writeVersions();
  await Promise.all(appends);
  return { documents: progress.documents, versions: progress.versions };
}

/** Throws unless `dir` is absent or empty; returns whether it exists. */
async function checkEmpty(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (entries !== null && entries.length > 0) {
    throw new Error(`refusing to restore into ${dir}: it is not empty (restore fills a new, empty data directory; nothing was changed)`);
  }
  return entries !== null;
}

/** The file's bytes as a stream, counted into `progress`. */
async function* archiveFile(file: string, progress: Progress): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    progress.bytes += chunk.byteLength;
    yield chunk;
  }
}
