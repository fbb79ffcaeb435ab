/**
 * Versions of a document, as a store keeps them: records the history service (`server/history/`)
 * writes and reads back, and a store stores without looking inside.
 *
 * A version's `data` is either the whole document as it was (a Yjs update, `base` null), or the
 * update that takes version `base` to it (a delta): reading a version applies its chain of deltas
 * back to a whole one. What a store promises is only that a `writeVersions` call is atomic, that
 * records come back as written, and that deleting the document removes its versions.
 */
/** What is known of a version without its data. */
export interface VersionInfo {
  /** Unique in its document; ids sort (by code unit) in the order the versions were taken. */
  readonly id: string;
  /** When it was taken, ms since the epoch. */
  readonly takenAt: number;
  /** Why it was taken: after edits (`auto`), by hand (`named`, with a label), or around a restore. */
  readonly kind: VersionKind;
  /** The name a person gave it; null for one taken automatically. */
  readonly label: string | null;
  /** Who wrote since the version before it, as far as the server knows (token `sub`, or presence name). */
  readonly authors: readonly string[];
  /** The position of the document's log (`Position`) the version reflects: every update up to it, none after. */
  readonly position: number;
  /** Bytes of the document at this version, as a Yjs update. */
  readonly size: number;
  /** The version `data` is a delta from; null when `data` is the whole document. */
  readonly base: string | null;
  /** Bytes of `data`. */
  readonly bytes: number;
}

/** Why a version was taken; see `VersionInfo.kind`. */
export type VersionKind = 'auto' | 'named' | 'before-restore' | 'restore';

/** A version with its data, as written and read back. */
export interface VersionRecord extends VersionInfo {
  readonly data: Uint8Array;
}

/** What one `writeVersions` call changes, all or nothing. */
export interface VersionChanges {
  /** Records to write (an existing id is replaced). */
  readonly put?: readonly VersionRecord[];
  /** Ids to remove; unknown ids are ignored. */
  readonly remove?: readonly string[];
}

/** The versions part of a `DocumentStore`. */
export interface VersionStore {
  /** The versions of a document, oldest first, without their data. */
  listVersions(name: string): Promise<VersionInfo[]>;

  /** One version with its data; null for an unknown id. */
  readVersion(name: string, id: string): Promise<VersionRecord | null>;

  /** Writes and removes versions of a document atomically; durable when it resolves. */
  writeVersions(name: string, changes: VersionChanges): Promise<void>;
}

const VERSION_ID = /^[0-9a-z]{1,32}$/;

/** Throws RangeError unless `id` could be a version id (what stores accept as one). */
export function checkVersionId(id: string): void {
  if (typeof id !== 'string' || !VERSION_ID.test(id)) throw new RangeError(`${JSON.stringify(id)} is not a version id: 1 to 32 of 0-9 and a-z`);
}
