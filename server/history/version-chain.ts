/**
 * How versions are stored: as chains. The first version of a chain holds the whole document (a
 * keyframe); each after it holds only what changed since the one before (a delta: the structs
 * added since that version's state vector, and the delete set). Reading a version merges its chain
 * from the keyframe. A chain ends once it would grow past `MAX_CHAIN` versions, or once its deltas
 * together outweigh its keyframe (reading it would then cost more than a keyframe saves), so no
 * read merges more than `MAX_CHAIN` records.
 *
 * Removing a version folds its data into the one after it, so the chain stays whole. The figures
 * behind the choice are in docs/decisions/2026-12-07-version-storage.md.
 */
import * as Y from 'yjs';
import type { VersionInfo, VersionRecord, VersionStore } from '../../persistence/versions.js';

/** The most versions one chain holds, its keyframe included. */
export const MAX_CHAIN = 16;

/** A version that is not there (any more). */
export class UnknownVersionError extends Error {
  override readonly name = 'UnknownVersionError';
}

/**
 * The ids of `id`'s chain, keyframe first, from `versions` (the document's, as listed). Throws
 * `UnknownVersionError` when `id` is not among them; a broken chain (a base that is missing) is an
 * `Error`: the store lost a record.
 */
export function chainOf(versions: readonly VersionInfo[], id: string): VersionInfo[] {
  const byId = new Map(versions.map((version) => [version.id, version]));
  let version = byId.get(id);
  if (version === undefined) throw new UnknownVersionError(`no version ${id}`);
  const chain = [version];
  while (version.base !== null) {
    const base = byId.get(version.base);
    if (base === undefined || chain.length > versions.length) throw new Error(`the chain of version ${id} is broken at ${version.base}`);
    chain.push(base);
    version = base;
  }
  return chain.reverse();
}

/** The whole document at version `id`, as a Yjs update. */
export async function readVersionState(store: VersionStore, name: string, versions: readonly VersionInfo[], id: string): Promise<Uint8Array> {
  const records = await Promise.all(chainOf(versions, id).map((version) => readRecord(store, name, version.id)));
  return records.length === 1 ? records[0]!.data : Y.mergeUpdates(records.map((record) => record.data));
}

/**
 * How to store a new version of the document `state` after `previous` (the newest version, with
 * its state vector), given the document's versions: as a delta on `previous` while its chain has
 * room and stays lighter than its keyframe, else as a keyframe.
 */
export function encodeNext(
  state: Uint8Array,
  previous: { readonly id: string; readonly stateVector: Uint8Array } | null,
  versions: readonly VersionInfo[],
): { readonly base: string | null; readonly data: Uint8Array } {
  if (previous === null) return { base: null, data: state };
  const chain = chainOf(versions, previous.id);
  if (chain.length >= MAX_CHAIN) return { base: null, data: state };
  const delta = Y.diffUpdate(state, previous.stateVector);
  const deltas = chain.slice(1).reduce((sum, version) => sum + version.bytes, 0) + delta.length;
  return deltas < chain[0]!.bytes ? { base: previous.id, data: delta } : { base: null, data: state };
}

/**
 * The records to write so that `remove` can go and every other version still reads as before:
 * the version after each removed one takes the removed one's data merged into its own (and its
 * base). `unwritten` are records among `versions` not in the store yet. Returns the records
 * changed, none of them among `remove`.
 */
export async function foldRemoved(
  store: VersionStore,
  name: string,
  versions: readonly VersionInfo[],
  remove: ReadonlySet<string>,
  unwritten: readonly VersionRecord[] = [],
): Promise<VersionRecord[]> {
  const changed = new Map<string, VersionRecord>();
  const known = new Map(unwritten.map((record) => [record.id, record]));
  const record = async (id: string): Promise<VersionRecord> => changed.get(id) ?? known.get(id) ?? (await readRecord(store, name, id));
  for (const version of versions) {
    if (!remove.has(version.id)) continue;
    const next = versions.find((other) => other.base === version.id);
    if (next === undefined) continue;
    const [removed, successor] = [await record(version.id), await record(next.id)];
    const data = Y.mergeUpdates([removed.data, successor.data]);
    changed.set(next.id, { ...successor, base: removed.base, data, bytes: data.length });
  }
  for (const id of remove) changed.delete(id);
  return [...changed.values()];
}

async function readRecord(store: VersionStore, name: string, id: string): Promise<VersionRecord> {
  const record = await store.readVersion(name, id);
  if (record === null) throw new UnknownVersionError(`no version ${id}`);
  return record;
}
