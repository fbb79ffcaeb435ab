/**
 * Which LevelDB databases `LevelDocumentStore` may open: its own, in a storage format it reads.
 *
 * The database records its format under the key `format` (`collab-server <n>`). Opening checks it
 * before anything is read or written, so that
 *
 * - a later version with a new layout, rolled back, does not misread or overwrite what the new
 *   one wrote: the older one refuses the directory and says which version wrote it;
 * - a LevelDB database of another program (y-websocket's y-leveldb persistence is the likely one,
 *   passed as `--data-dir` by someone moving to this server) is refused rather than written into.
 *
 * Stores written before the marker existed hold the `seq` key (see `level-keys.ts`) as soon as
 * anything was stored: they are adopted, and so is an empty database.
 */
import type { ClassicLevel } from 'classic-level';

import { StoreOpenError } from '../document-store.js';
import { LOG_FIRST, LOG_END, META_END, META_FIRST, SEQ_KEY } from './keys.js';

/** The storage format this version reads and writes. */
export const STORAGE_FORMAT = 1;
/** The key that holds the format marker. */
export const FORMAT_KEY = 'format';
const FORMAT_PREFIX = 'collab-server ';
/** Keys looked at, at most, to tell an unmarked database of ours from another program's. */
const KEYS_EXAMINED = 1000;

type Database = ClassicLevel<string, Uint8Array>;

/**
 * Checks that `db` (open) holds a document store in `STORAGE_FORMAT`, and marks an empty or
 * unmarked one of ours. Throws `StoreOpenError`, having written nothing, if it holds another
 * format or another program's data.
 */
export async function checkStorageFormat(db: Database): Promise<void> {
  const marked = await db.get(FORMAT_KEY);
  if (marked !== undefined) {
    const format = decodeFormat(marked);
    if (format === null) throw foreign(db, `its "${FORMAT_KEY}" key holds ${JSON.stringify(excerpt(marked))}`);
    if (format !== STORAGE_FORMAT) {
      throw new StoreOpenError(
        `The data directory ${db.location} holds storage format ${format}, written by ${format > STORAGE_FORMAT ? 'a newer' : 'an older'} version of collab-server; this version reads format ${STORAGE_FORMAT}. Run a version that reads it; nothing was changed.`,
      );
    }
    return;
  }
  if ((await db.get(SEQ_KEY)) === undefined) {
    const other = await firstForeignKey(db);
    if (other !== null) throw foreign(db, `it holds the key ${JSON.stringify(other)}`);
  }
  await db.put(FORMAT_KEY, encodeFormat(STORAGE_FORMAT), { sync: true });
}

/** The marker of storage format `format`, as stored under `FORMAT_KEY`. */
export function encodeFormat(format: number): Uint8Array {
  return new TextEncoder().encode(`${FORMAT_PREFIX}${format}`);
}

/** The format a marker names, or null if it is not one of ours. */
function decodeFormat(bytes: Uint8Array): number | null {
  const match = /^collab-server ([1-9][0-9]{0,5})$/.exec(new TextDecoder().decode(bytes));
  return match === null ? null : Number(match[1]);
}

/** A key among the first `KEYS_EXAMINED` outside this store's layout, or null. */
async function firstForeignKey(db: Database): Promise<string | null> {
  for (const key of await db.keys({ limit: KEYS_EXAMINED }).all()) {
    const ours = (key > META_FIRST && key < META_END) || (key > LOG_FIRST && key < LOG_END) || key.startsWith('s\u0000');
    if (!ours) return key;
  }
  return null;
}

function foreign(db: Database, evidence: string): StoreOpenError {
  return new StoreOpenError(
    `The data directory ${db.location} holds a LevelDB database that is not collab-server's (${evidence}): choose another --data-dir (DATA_DIR). Nothing was changed.`,
  );
}

/** Up to 40 characters of a value, for a message. */
function excerpt(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 40));
  return bytes.length > 40 ? `${text}…` : text;
}
