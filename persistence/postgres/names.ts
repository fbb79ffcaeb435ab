/**
 * Document names as the PostgreSQL store keys them.
 *
 * A name is stored as text (collation "C", so `list` orders it by code point) and found by its
 * key: the SHA-256 of its UTF-8 bytes. A unique index on the name itself would cap its length
 * (a B-tree entry holds at most about 2.7 kB), and the store takes any name the LevelDB store
 * takes; the key is 32 bytes whatever the name.
 */
import { createHash } from 'node:crypto';

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Throws RangeError for a name the store cannot hold: one containing U+0000 (PostgreSQL's text
 * cannot), or a lone surrogate (UTF-8 encodes every lone surrogate as U+FFFD, so two names would
 * be one document). The LevelDB store refuses the same names.
 */
export function checkName(name: string): void {
  if (typeof name !== 'string') throw new TypeError('A document name must be a string');
  if (name.includes('\u0000')) throw new RangeError(`Document name ${JSON.stringify(name)} contains U+0000, which PostgreSQL text cannot hold`);
  if (LONE_SURROGATE.test(name)) throw new RangeError(`Document name ${JSON.stringify(name)} contains a lone surrogate, which UTF-8 cannot encode`);
}

/** The key of a document: the SHA-256 of its name's UTF-8 bytes. */
export function documentKey(name: string): Buffer {
  return createHash('sha256').update(name, 'utf8').digest();
}

/**
 * The two 32-bit keys of a transaction-level advisory lock on the document with key `key`, in
 * the store's lock space `space` (one per schema). Two documents may share a lock: it only
 * avoids duplicate work, so sharing one costs at most a skipped compaction.
 */
export function documentLock(space: number, key: Buffer): [number, number] {
  return [space, key.readInt32BE(0)];
}
