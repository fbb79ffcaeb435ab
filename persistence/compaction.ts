/**
 * Applying a stored document to a Y.Doc, and compacting updates into one, in time linear in the history.
 *
 * Yjs can merge updates without a document (`Y.mergeUpdates`), but that re-sorts and re-encodes
 * the structs on every call and grows superlinearly over thousands of keystroke updates. Applying
 * the updates to one document inside one transaction integrates each update once (the per-update
 * cost is a binary search by client clock) and runs the transaction's cleanup, observers and
 * delete-set merge once at the end, so a 100k-update log applies in well under a second.
 */
import * as Y from 'yjs';

import type { StoredDocument } from './document-store.js';

/**
 * Applies `stored` to `doc`: the compacted state first, then every logged update in order, all in
 * ONE `doc.transact`, so observers and `update` listeners of `doc` fire once for the whole load.
 * `origin` is the transaction origin those listeners see (for example, to tell a load from an
 * edit that must be stored). Updates already contained in the state (the log may overlap it) are
 * ignored by Yjs, so applying is idempotent. Throws whatever Yjs throws on a malformed update;
 * the transaction then ends with the updates before it applied.
 */
export function applyStoredDocument(doc: Y.Doc, stored: Pick<StoredDocument, 'state' | 'updates'>, origin?: unknown): void {
  doc.transact(() => {
    if (stored.state !== null) Y.applyUpdate(doc, stored.state);
    for (const update of stored.updates) Y.applyUpdate(doc, update);
  }, origin);
}

/** Options of `compactUpdates`. */
export interface CompactUpdatesOptions {
  /**
   * Whether deleted content is garbage-collected in the compacted result, as `Y.Doc`'s `gc` option.
   * Default `true`, the Yjs default. Pass `false` when the documents are kept with `gc: false`
   * (to restore old versions), or the compaction would drop the content those versions need.
   */
  readonly gc?: boolean;
}

/**
 * Compacts Yjs (v1) updates, in order, into one update equivalent to all of them: applies them to a
 * fresh Y.Doc in one transaction and encodes its state once. Linear in the total size of the
 * updates; never uses `Y.mergeUpdates`, which is superlinear over long keystroke logs.
 * An empty list gives the encoding of an empty document. Throws what Yjs throws on a malformed update.
 */
export function compactUpdates(updates: readonly Uint8Array[], options: CompactUpdatesOptions = {}): Uint8Array {
  const doc = new Y.Doc({ gc: options.gc ?? true });
  try {
    doc.transact(() => {
      for (const update of updates) Y.applyUpdate(doc, update);
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
