/**
 * Restoring a backup archive (`archive.ts`) into a new store, for a server started on it
 * afterwards: a LevelDB data directory or a PostgreSQL database (`restore-target.ts`), which must
 * hold no document. The archive is read twice: once whole, to check it (a truncated or corrupt one
 * is refused before anything is written), then to write it.
 *
 * Each document becomes one update of its log (its whole state, as backed up). Versions are kept
 * as they were, except their `position`, which pointed into the old server's log: it becomes 0
 * (before every update of the new log), so the history never takes a restored version for the
 * current content.
 */
import { createReadStream } from 'node:fs';
import * as Y from 'yjs';
import type { DocumentStore } from '../../persistence/document-store.js';
import type { VersionRecord } from '../../persistence/versions.js';
import { validateDocumentName } from '../../protocol/document-name.js';
import { type DocumentEntry, readArchive } from './archive.js';
import { Progress } from './progress.js';
import type { RestoreTarget } from './restore-target.js';

/** The longest name a restore takes, in characters (the server's own limit is lower by default). */
const MAX_NAME_LENGTH = 4096;

/** Appends written together, at most: a group commit of this many documents or bytes. */
const BATCH_DOCUMENTS = 200;
const BATCH_BYTES = 16 * 1024 ** 2;

/** What a restore wrote. */
export interface Restored {
  readonly documents: number;
  readonly versions: number;
}

/** Restores `file` into `target` (see the top of this file); throws, having changed nothing, when it cannot. */
export async function restoreArchive(file: string, target: RestoreTarget): Promise<Restored> {
  await target.checkEmpty();
  const checking = new Progress('checking the archive');
  try {
    const names = new Set<string>();
    for await (const record of readArchive(archiveFile(file, checking))) {
      if (record.type === 'document') {
        checkDocument(record.entry, names);
        checking.documents++;
      } else if (record.type === 'version') checking.versions++;
      checking.tick();
    }
  } catch (error) {
    throw new Error(`${file} cannot be restored, nothing was written: ${(error as Error).message}`);
  }

  const store = await target.open();
  try {
    const restored = await write(store, file);
    await store.close();
    return restored;
  } catch (error) {
    await store.close().catch(() => undefined);
    // What was written goes: a half-restored store is worse than none.
    const reason = (error as Error).message;
    await target.discard().catch((discarding: unknown) => {
      throw new Error(`the restore failed (${reason}), and what it wrote into ${target.shown} could not be removed: ${(discarding as Error).message}`);
    });
    throw new Error(`the restore failed, and ${target.shown} was left as it was: ${reason}`);
  }
}

async function write(store: DocumentStore, file: string): Promise<Restored> {
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

/**
 * Throws unless `entry` can be restored as it is: a valid name, not seen before in the archive,
 * and a state that decodes as a Yjs update. The checksums say the archive is as it was written;
 * this says that what was written is a server's documents.
 */
function checkDocument({ name, state }: DocumentEntry, names: Set<string>): void {
  validateDocumentName(name, MAX_NAME_LENGTH);
  if (names.has(name)) throw new Error(`the document ${JSON.stringify(name)} appears twice`);
  names.add(name);
  try {
    Y.decodeUpdate(state);
  } catch {
    throw new Error(`the state of the document ${JSON.stringify(name)} is not a Yjs update`);
  }
}

/** The file's bytes as a stream, counted into `progress`. */
async function* archiveFile(file: string, progress: Progress): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    progress.bytes += chunk.byteLength;
    yield chunk;
  }
}
