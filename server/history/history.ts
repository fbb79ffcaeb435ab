/**
 * The version history of documents: versions taken after edits, by hand and around restores;
 * read back whole; removed by retention or by hand. Each document's history changes one operation
 * at a time (`exclusive`), so chains (`version-chain.ts`) are never built on a version being
 * removed.
 *
 * Automatic versions: a document edited here gets one once it has been quiet for `quietMs`, at
 * the latest `intervalMs` after the first edit since its last version, and when it is unloaded
 * with edits since (`unloading`), so a restart or a quiet server loses none. Each version keeps who
 * wrote since the one before it.
 */
import * as Y from 'yjs';
import type { DocumentStore } from '../../persistence/document-store.js';
import type { VersionInfo, VersionKind } from '../../persistence/versions.js';
import type { Logger } from '../logger.js';
import type { RoomSnapshot } from '../sync/room.js';
import { expiredVersions, type Retention } from './retention.js';
import { encodeNext, foldRemoved, readVersionState, UnknownVersionError } from './version-chain.js';

export { UnknownVersionError } from './version-chain.js';

/** What the history needs of a loaded document: its name, and the document as stored now. */
export interface VersionSource {
  readonly name: string;
  readonly failed: boolean;
  snapshot(): Promise<RoomSnapshot>;
}

/** The history's options: see `ServerConfig`. */
export interface HistoryOptions {
  /** A document edited here gets a version once quiet this long; 0: no automatic versions. */
  readonly versionQuietMs: number;
  /** ...and at the latest this long after the first edit since its last version. */
  readonly versionIntervalMs: number;
  readonly keepVersions: Retention;
  readonly logger: Logger;
}

/** What to take: the kind, and a person's label. */
export interface VersionRequest {
  readonly kind: VersionKind;
  readonly label?: string | null;
  /** Take none if the newest version already holds the document as stored now; that one is returned. */
  readonly unlessCurrent?: boolean;
}

/** Edits made here since a document's last version, waiting for it. */
interface Unversioned {
  source: VersionSource;
  readonly authors: Set<string>;
  /** Null without automatic versions (`versionQuietMs` 0): the authors are kept for the next version by hand. */
  readonly quiet: NodeJS.Timeout | null;
  readonly latest: NodeJS.Timeout | null;
}

/** The newest version's state vector, per document: what the next delta starts from. Bounded. */
const NEWEST_CACHED = 1000;

/** The version history of every document of a store (see the top of this file). */
export class DocumentHistory {
  private readonly unversioned = new Map<string, Unversioned>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly newest = new Map<string, { readonly id: string; readonly stateVector: Uint8Array }>();
  /** Versions taken since the start, by kind, counted in place as each is written (for `server/metrics/`); they only grow. */
  readonly taken: Record<VersionKind, number> = { auto: 0, named: 0, 'before-restore': 0, restore: 0 };

  constructor(
    private readonly store: DocumentStore,
    private readonly options: HistoryOptions,
  ) {}

  /** Updates written by `authors` (as far as known) are stored in `source`'s document. */
  edited(source: VersionSource, authors: ReadonlySet<string>): void {
    let entry = this.unversioned.get(source.name);
    if (entry === undefined) {
      const take = (): void => void this.takeAutomatic(source.name);
      const automatic = this.options.versionQuietMs > 0;
      entry = {
        source,
        authors: new Set(),
        quiet: automatic ? timer(take, this.options.versionQuietMs) : null,
        latest: automatic ? timer(take, this.options.versionIntervalMs) : null,
      };
      this.unversioned.set(source.name, entry);
    } else {
      entry.source = source;
      entry.quiet?.refresh();
    }
    for (const author of authors) entry.authors.add(author);
  }

  /** The document is about to be unloaded: edits since its last version get one now. */
  async unloading(source: VersionSource): Promise<void> {
    const entry = this.unversioned.get(source.name);
    if (entry?.source !== source) return;
    if (entry.quiet === null) this.dropUnversioned(source.name);
    else await this.takeAutomatic(source.name);
  }

  /** Takes a version of `source`'s document as stored now. Rejects if the room failed or the store did. */
  take(source: VersionSource, request: VersionRequest): Promise<VersionInfo> {
    return this.exclusive(source.name, () => this.write(source, request));
  }

  /** The versions of a document, newest first. */
  async list(name: string): Promise<VersionInfo[]> {
    return (await this.store.listVersions(name)).reverse();
  }

  /** What is known of one version; throws `UnknownVersionError`. */
  async info(name: string, id: string): Promise<VersionInfo> {
    const version = (await this.store.listVersions(name)).find((candidate) => candidate.id === id);
    if (version === undefined) throw new UnknownVersionError(`no version ${id}`);
    return version;
  }

  /** The whole document at a version, as a Yjs update; throws `UnknownVersionError`. */
  read(name: string, id: string): Promise<Uint8Array> {
    return this.exclusive(name, async () => readVersionState(this.store, name, await this.store.listVersions(name), id));
  }

  /** Removes a version (the others read as before); throws `UnknownVersionError`. */
  remove(name: string, id: string): Promise<void> {
    return this.exclusive(name, async () => {
      const versions = await this.store.listVersions(name);
      if (!versions.some((version) => version.id === id)) throw new UnknownVersionError(`no version ${id}`);
      await this.removeVersions(name, versions, new Set([id]));
    });
  }

  /** The document was deleted (its versions with it): what waited for a version goes. */
  forget(name: string): void {
    this.dropUnversioned(name);
    this.newest.delete(name);
  }

  /** Stops every timer; versions not taken yet are taken by `unloading` as the rooms unload. */
  close(): void {
    for (const entry of this.unversioned.values()) clearTimers(entry);
  }

  private async takeAutomatic(name: string): Promise<void> {
    const entry = this.unversioned.get(name);
    if (entry === undefined) return;
    if (entry.source.failed) {
      // Its reload goes on from the store; the next edit there starts the wait again.
      this.dropUnversioned(name);
      return;
    }
    try {
      await this.take(entry.source, { kind: 'auto' });
    } catch (error) {
      this.options.logger.error({ err: error, doc: name }, 'could not take a version of the document; the next edit tries again');
    }
  }

  /** Takes a version (within `exclusive`): the document as stored now, after its last version. */
  private async write(source: VersionSource, { kind, label = null, unlessCurrent = false }: VersionRequest): Promise<VersionInfo> {
    const name = source.name;
    const versions = await this.store.listVersions(name);
    const { state, head } = await source.snapshot();
    const newest = versions.at(-1);
    if (unlessCurrent && newest !== undefined && newest.position >= head) return newest;
    // The authors since the last version: taken now, so edits from here on count for the next one.
    const entry = this.unversioned.get(name);
    const authors = entry === undefined ? [] : [...entry.authors];
    this.dropUnversioned(name);
    const last = versions.at(-1) ?? null;
    const previous = last === null ? null : await this.newestState(name, versions, last.id);
    const { base, data } = encodeNext(state, previous, versions);
    const takenAt = Date.now();
    const info: VersionInfo = {
      id: nextId(takenAt, last?.id ?? null),
      takenAt,
      kind,
      label,
      authors,
      position: head,
      size: state.length,
      base,
      bytes: data.length,
    };
    const record = { ...info, data };
    const expired = expiredVersions([...versions, info], this.options.keepVersions, takenAt);
    expired.delete(info.id);
    // The new version takes in its predecessor's data if retention lets the predecessor go.
    const folded = expired.size === 0 ? [] : await foldRemoved(this.store, name, [...versions, info], expired, [record]);
    const written = folded.find((candidate) => candidate.id === info.id) ?? record;
    await this.store.writeVersions(name, { put: [written, ...folded.filter((candidate) => candidate.id !== info.id)], remove: [...expired] });
    this.taken[kind]++;
    this.remember(name, { id: info.id, stateVector: Y.encodeStateVectorFromUpdate(state) });
    const { data: _, ...taken } = written;
    return taken;
  }

  private async removeVersions(name: string, versions: readonly VersionInfo[], remove: Set<string>): Promise<void> {
    const folded = await foldRemoved(this.store, name, versions, remove);
    await this.store.writeVersions(name, { put: folded, remove: [...remove] });
    if (remove.has(this.newest.get(name)?.id ?? '')) this.newest.delete(name);
  }

  /** The state vector of the document's newest version `id`, from memory or read back. */
  private async newestState(name: string, versions: readonly VersionInfo[], id: string): Promise<{ id: string; stateVector: Uint8Array }> {
    const known = this.newest.get(name);
    if (known?.id === id) return known;
    const newest = { id, stateVector: Y.encodeStateVectorFromUpdate(await readVersionState(this.store, name, versions, id)) };
    this.remember(name, newest);
    return newest;
  }

  private remember(name: string, newest: { readonly id: string; readonly stateVector: Uint8Array }): void {
    this.newest.delete(name);
    this.newest.set(name, newest);
    if (this.newest.size > NEWEST_CACHED) this.newest.delete(this.newest.keys().next().value!);
  }

  private dropUnversioned(name: string): void {
    const entry = this.unversioned.get(name);
    if (entry === undefined) return;
    clearTimers(entry);
    this.unversioned.delete(name);
  }

  /** Runs `body` once every operation on the document's history before it has settled. */
  private exclusive<T>(name: string, body: () => Promise<T>): Promise<T> {
    const before = this.queues.get(name) ?? Promise.resolve();
    const result = before.then(body, body);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return result;
  }
}

/** An unref'd timer: a pending version never holds the process open (`unloading` takes it). */
function timer(callback: () => void, ms: number): NodeJS.Timeout {
  const handle = setTimeout(callback, ms);
  handle.unref();
  return handle;
}

function clearTimers(entry: Unversioned): void {
  if (entry.quiet !== null) clearTimeout(entry.quiet);
  if (entry.latest !== null) clearTimeout(entry.latest);
}

/**
 * A version id: the time it was taken in base 36 (9 digits: sortable until the year 5188), after
 * the previous id's time if the clock went back, and 4 random digits against another instance
 * taking one in the same millisecond.
 */
function nextId(takenAt: number, previous: string | null): string {
  const after = previous === null ? 0 : Number.parseInt(previous.slice(0, 9), 36) + 1;
  const time = Math.max(takenAt, Number.isSafeInteger(after) ? after : 0);
  const random = Math.floor(Math.random() * 36 ** 4);
  return time.toString(36).padStart(9, '0') + random.toString(36).padStart(4, '0');
}
