/**
 * The key layout and record encodings of `LevelDocumentStore`.
 *
 * Keys are UTF-8 strings; a document name never contains U+0000, which separates the parts:
 *   `s\0<name>`           the compacted state of a document (a Yjs update)
 *   `u\0<name>\0<seq>`    one logged update; `seq` (its position) is 16 lowercase hex digits, so key order is log order
 *   `m\0<name>`           the document's metadata (JSON, `DocumentMeta`)
 *   `seq`                 the last sequence number written, store-wide (hex)
 *   `w\0<name>\0<id>`     what is known of one version (JSON, `VersionInfo`)
 *   `v\0<name>\0<id>`     one version's data
 *   `e\0<key>`            one queued event (`events.ts`)
 * A document's log is the range (`u\0<name>\0`, `u\0<name>\u0001`): a name that extends another,
 * `ab` after `a`, sorts after the bound because its next byte is above U+0001.
 *
 * Sequence numbers are store-wide: a document's positions are the sequence numbers of its updates.
 */

import type { ClassicLevel } from 'classic-level';
import type { VersionInfo } from '../versions.js';

/** The database as the store uses it: UTF-8 keys, `Uint8Array` values. */
export type LevelDatabase = ClassicLevel<string, Uint8Array>;

/** What the store knows of a document besides its updates; written in every batch that touches it. */
export interface DocumentMeta {
  /** Milliseconds since the epoch of the last write. */
  readonly updatedAt: number;
  /** Bytes of the compacted state (0 if none). */
  readonly stateBytes: number;
  /** Bytes of the logged updates. */
  readonly logBytes: number;
  /** Number of logged updates. */
  readonly logLength: number;
  /**
   * The position up to which the compacted state holds every update; 0 without a state, -1 for a state
   * written before positions were recorded (its position is unknown).
   */
  readonly statePosition: number;
  /** When the document was deleted (ms since the epoch), if that is the last thing that happened to it; else null. */
  readonly deletedAt: number | null;
}

/** The metadata of a document never written. */
export const EMPTY_META: DocumentMeta = { updatedAt: 0, stateBytes: 0, logBytes: 0, logLength: 0, statePosition: 0, deletedAt: null };

/** The key of the last sequence number LevelDB has indexed. */
export const SEQ_KEY = 'seq';
/** The range of every metadata key: `gt` META_FIRST, `lt` META_END. */
export const META_FIRST = 'm\u0000';
export const META_END = 'm\u0001';

/** The key of a document's compacted state, and of its metadata. */
export const stateKey = (name: string): string => `s\u0000${name}`;
export const metaKey = (name: string): string => `m\u0000${name}`;
/** The range of every document's log: `gt` LOG_FIRST, `lt` LOG_END. */
export const LOG_FIRST = 'u\u0000';
export const LOG_END = 'u\u0001';
/** Exclusive lower bound of a document's log. */
export const logFirst = (name: string): string => `u\u0000${name}\u0000`;
/** Exclusive upper bound of a document's log. */
export const logEnd = (name: string): string => `u\u0000${name}\u0001`;
/** The key of the logged update with sequence number `seq`. */
export const logKey = (name: string, seq: number): string => logFirst(name) + seq.toString(16).padStart(16, '0');
/** The sequence number (position) in a log key. */
export const seqOfLogKey = (key: string): number => Number.parseInt(key.slice(-16), 16);

/** The range of every queued event: `gt` EVENT_FIRST, `lt` EVENT_END; an event's key is EVENT_FIRST + its key. */
export const EVENT_FIRST = 'e\u0000';
export const EVENT_END = 'e\u0001';

/** The range of a document's version records (`VersionInfo`): `gt` first, `lt` end. */
export const versionInfoFirst = (name: string): string => `w\u0000${name}\u0000`;
export const versionInfoEnd = (name: string): string => `w\u0000${name}\u0001`;
/** The range of a document's version data. */
export const versionDataFirst = (name: string): string => `v\u0000${name}\u0000`;
export const versionDataEnd = (name: string): string => `v\u0000${name}\u0001`;
/** The keys of one version's record and data. */
export const versionInfoKey = (name: string, id: string): string => versionInfoFirst(name) + id;
export const versionDataKey = (name: string, id: string): string => versionDataFirst(name) + id;

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Throws RangeError for a name the key layout cannot hold: one containing U+0000 (the separator),
 * or a lone surrogate (UTF-8 encodes every lone surrogate as U+FFFD, so two names would share keys).
 */
export function checkName(name: string): void {
  if (typeof name !== 'string') throw new TypeError('A document name must be a string');
  if (name.includes('\u0000')) {
    throw new RangeError(`Document name ${JSON.stringify(name)} contains U+0000, the store's key separator`);
  }
  if (LONE_SURROGATE.test(name)) {
    throw new RangeError(`Document name ${JSON.stringify(name)} contains a lone surrogate, which UTF-8 cannot encode`);
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A sequence number as stored under `SEQ_KEY` (hex). */
export function encodeSeq(seq: number): Uint8Array {
  return textEncoder.encode(seq.toString(16));
}

/** Throws if the record is not a sequence number: the store must not reuse numbers it cannot read. */
export function decodeSeq(bytes: Uint8Array): number {
  const text = textDecoder.decode(bytes);
  const seq = /^[0-9a-f]{1,14}$/.test(text) ? Number.parseInt(text, 16) : Number.NaN;
  if (!Number.isSafeInteger(seq)) throw new Error(`Corrupt store: key "${SEQ_KEY}" holds ${JSON.stringify(text)}, not a sequence number`);
  return seq;
}

/** The last sequence number LevelDB has indexed (0 for an empty store). */
export async function readIndexedSeq(db: LevelDatabase): Promise<number> {
  const stored = await db.get(SEQ_KEY);
  return stored === undefined ? 0 : decodeSeq(stored);
}

/** A version's record as stored (JSON). */
export function encodeVersionInfo(info: VersionInfo): Uint8Array {
  const { id, takenAt, kind, label, authors, position, size, base, bytes } = info;
  return textEncoder.encode(JSON.stringify({ id, takenAt, kind, label, authors, position, size, base, bytes }));
}

/** Throws if the record is not a version record. */
export function decodeVersionInfo(bytes: Uint8Array): VersionInfo {
  const value: unknown = JSON.parse(textDecoder.decode(bytes));
  const record = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || typeof record['id'] !== 'string' || typeof record['position'] !== 'number') {
    throw new Error('Corrupt store: a version record is not one');
  }
  return value as VersionInfo;
}

/** Metadata as stored (JSON). */
export function encodeMeta(meta: DocumentMeta): Uint8Array {
  return textEncoder.encode(JSON.stringify(meta));
}

/** Throws if the record is not a metadata record. */
export function decodeMeta(bytes: Uint8Array): DocumentMeta {
  let value: unknown;
  try {
    value = JSON.parse(textDecoder.decode(bytes));
  } catch (cause) {
    throw new Error('Corrupt store: a metadata record is not JSON', { cause });
  }
  const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const fields = ['updatedAt', 'stateBytes', 'logBytes', 'logLength'] as const;
  if (!fields.every((field) => typeof record[field] === 'number')) {
    throw new Error('Corrupt store: a metadata record lacks a field');
  }
  const stateBytes = record['stateBytes'] as number;
  const statePosition = typeof record['statePosition'] === 'number' ? record['statePosition'] : stateBytes > 0 ? -1 : 0;
  return {
    updatedAt: record['updatedAt'] as number,
    stateBytes,
    logBytes: record['logBytes'] as number,
    logLength: record['logLength'] as number,
    statePosition,
    deletedAt: typeof record['deletedAt'] === 'number' ? record['deletedAt'] : null,
  };
}
