/**
 * A room's estimate of its document's encoded size, held to `maxDocumentSize`: exact at load and
 * at each compaction, and in between grown by the length of each update applied (an overestimate:
 * updates carry their own overhead, and deletions shrink a document). Counted as received rather
 * than as integrated, so updates parked in Yjs's pending queue count too: they hold memory and are
 * part of the encoded state. Measured exactly again only when an update would cross the limit.
 */
import * as Y from 'yjs';
import { changesNothing } from './update-check.js';

/** One document's size estimate (see the top of this file). */
export class DocumentSize {
  constructor(
    private bytes: number,
    private exact: boolean,
  ) {}

  /** The estimate now, in bytes. */
  get estimate(): number {
    return this.bytes;
  }

  /** An update of `bytes` was applied. */
  grew(bytes: number): void {
    this.bytes += bytes;
    this.exact = false;
  }

  /** The document was encoded, `bytes` long. */
  measured(bytes: number): void {
    this.bytes = bytes;
    this.exact = true;
  }

  /** Whether `doc` stays within `max` bytes with `update` applied. */
  allows(doc: Y.Doc, update: Uint8Array, max: number): boolean {
    if (this.bytes + update.length <= max) return true;
    if (!this.exact) {
      // At most once per applied update, however many oversized updates arrive.
      this.measured(Y.encodeStateAsUpdate(doc).length);
      if (this.bytes + update.length <= max) return true;
    }
    // Near the limit, count only what is new: a reconnecting client resends much that we have.
    const diff = Y.diffUpdate(update, Y.encodeStateVector(doc));
    if (this.bytes + diff.length <= max || changesNothing(doc, update)) return true;
    // Deletions alone fit: they turn content into tombstones of its length, so a document at its
    // limit can still be made smaller. At most they split an item in two per deletion.
    return Y.parseUpdateMeta(diff).to.size === 0;
  }
}
