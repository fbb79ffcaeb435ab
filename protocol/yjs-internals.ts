/**
 * Every use of Yjs internals, in one place: what the server and the editor read or change that
 * Yjs does not document as its API. `tests/protocol/yjs-internals.test.ts` checks each against the
 * pinned Yjs version, so a release that changes one fails there, by name, rather than somewhere in
 * the sync engine.
 *
 * - The pending queues of a document's struct store (`pendingStructs`, `pendingDs`): what waits
 *   for a dependency the document lacks (see `server/sync/waiting.ts`).
 * - `Item.prototype.integrate`, wrapped to bound the time one update may take. This is the one
 *   process-wide effect here, as Yjs's prototype is; everything else works on what it is given.
 * - How `Y.decodeUpdateV2` reads an update: through the decoder class it is given, one
 *   `readClient` per list of structs, and a byte reader (`restDecoder`) that ends where it stopped.
 * - The first item of a type's sequence (`_start`), the newest item of a map key and the keys
 *   themselves (`_map`).
 */
import type * as decoding from 'lib0/decoding';
import * as Y from 'yjs';

/** A document's struct store, as Yjs keeps it. */
type StructStore = Y.Doc['store'];

// The pending queues.

/** Whether anything waits in `doc`'s pending queues for a struct or deletion it lacks. */
export function somethingPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

/** The encoded sizes of what waits in `doc`: insertions (pending structs) and deletions. */
export function pendingSizes(doc: Y.Doc): { readonly structs: number; readonly deletions: number } {
  return { structs: doc.store.pendingStructs?.update.length ?? 0, deletions: doc.store.pendingDs?.length ?? 0 };
}

/** Empties `doc`'s pending queues. */
export function clearPending(doc: Y.Doc): void {
  doc.store.pendingStructs = null;
  doc.store.pendingDs = null;
}

/**
 * The pending queues as they are now, to tell afterwards whether a transaction integrated anything
 * that waited (see `pendingIntegrated`).
 */
export interface PendingMark {
  readonly structs: StructStore['pendingStructs'];
  readonly deletions: Uint8Array | null;
}

/** What `markPending` returns while nothing waits: every keystroke of a live editor, which then allocates nothing. */
const NOTHING_PENDING: PendingMark = { structs: null, deletions: null };

/** The pending queues of `doc` now (see `PendingMark`). */
export function markPending(doc: Y.Doc): PendingMark {
  const { pendingStructs, pendingDs } = doc.store;
  return pendingStructs === null && pendingDs === null ? NOTHING_PENDING : { structs: pendingStructs, deletions: pendingDs };
}

/**
 * Whether something that waited at `mark` was integrated since: Yjs retries its pending structs
 * (into a new queue object) when a dependency arrives, and applies what it can of the waiting
 * deletions with every update, keeping a range from the first clock its client's state lacks.
 */
export function pendingIntegrated(doc: Y.Doc, mark: PendingMark): boolean {
  const store = doc.store;
  if (mark.structs !== null && store.pendingStructs !== mark.structs) return true;
  if (mark.deletions === null) return false;
  for (const [client, ranges] of Y.decodeUpdateV2(mark.deletions).ds.clients) {
    const state = Y.getState(store, client);
    if (ranges.some(({ clock }) => clock < state)) return true;
  }
  return false;
}

/**
 * Runs `body` (synchronous) with `doc`'s pending queues set aside, so that what Yjs encodes from
 * the document leaves out what waits: `Y.encodeStateAsUpdate` adds the queues to its result.
 */
export function withoutPending<T>(doc: Y.Doc, body: () => T): T {
  const store = doc.store;
  const { pendingStructs, pendingDs } = store;
  if (pendingStructs === null && pendingDs === null) return body();
  store.pendingStructs = null;
  store.pendingDs = null;
  try {
    return body();
  } finally {
    store.pendingStructs = pendingStructs;
    store.pendingDs = pendingDs;
  }
}

// Integration.

let integrateCheck: (() => void) | null = null;

/**
 * Has `check` run before every item Yjs integrates, from now on, in every document of the process:
 * it may throw to stop the update being applied. `Item.prototype.integrate` is wrapped, not
 * replaced, once; a second call replaces the check. The cost is one call per item.
 */
export function checkBeforeEachItem(check: () => void): void {
  if (integrateCheck === null) {
    const integrate = Y.Item.prototype.integrate;
    Y.Item.prototype.integrate = function (this: Y.Item, transaction: Y.Transaction, offset: number): void {
      integrateCheck!();
      integrate.call(this, transaction, offset);
    };
  }
  integrateCheck = check;
}

// Reading an update.

/** What `UpdateScanner.scan` read of an update. */
export interface ScannedUpdate {
  readonly structs: ReturnType<typeof Y.decodeUpdate>['structs'];
  readonly ds: ReturnType<typeof Y.decodeUpdate>['ds'];
  /** Where Yjs's reading stopped, in bytes: the update's length for a well-formed one. */
  readonly end: number;
  /** A client whose structs the update lists twice (Yjs integrates only the last list), or null. */
  readonly listedTwice: number | null;
}

/**
 * Decodes v1 updates as `Y.decodeUpdate` does, noting what it leaves unsaid: where its reading
 * stopped and whether a client's structs are listed twice. One scanner per owner: it keeps the
 * state of the scan running now (no state is shared between scanners).
 */
export class UpdateScanner {
  private reader: decoding.Decoder | null = null;
  private readonly clients = new Set<number>();
  private listedTwice: number | null = null;
  private readonly Decoder: typeof Y.UpdateDecoderV1;

  constructor() {
    const scanner = this;
    this.Decoder = class ScanningDecoder extends Y.UpdateDecoderV1 {
      constructor(reader: decoding.Decoder) {
        super(reader);
        scanner.reader = reader;
      }

      override readClient(): number {
        const client = super.readClient();
        if (scanner.clients.has(client)) scanner.listedTwice ??= client;
        scanner.clients.add(client);
        return client;
      }
    };
  }

  /** Throws what Yjs throws for an update that does not decode. */
  scan(update: Uint8Array): ScannedUpdate {
    this.clients.clear();
    this.listedTwice = null;
    this.reader = null;
    const { structs, ds } = Y.decodeUpdateV2(update, this.Decoder);
    const end = this.reader === null ? 0 : (this.reader as decoding.Decoder).pos;
    this.reader = null;
    return { structs, ds, end, listedTwice: this.listedTwice };
  }
}

// Walking a type's items.

/** The first item of a type's sequence (its list of children, or a text's characters). */
export function firstItem<E>(type: Y.AbstractType<E>): Y.Item | null {
  return type._start;
}

/** The newest item of a map key (the one holding its value); older values are to its left. */
export function newestItemOfKey<E>(type: Y.AbstractType<E>, key: string): Y.Item | null {
  return type._map.get(key) ?? null;
}

/**
 * The keys of a type's map part (a map's entries, an element's attributes), deleted ones too. A
 * top-level type nobody has named yet in this document is a bare `AbstractType` that keeps its
 * entries there whatever it is; a key among them tells a map from a list or a text.
 */
export function keysOfType<E>(type: Y.AbstractType<E>): string[] {
  return [...type._map.keys()];
}
