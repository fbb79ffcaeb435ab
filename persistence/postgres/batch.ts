/**
 * Groups of appends written in one transaction (a batch), and where the batch left each group's
 * documents. A group's callers share one `Written`; the groups of a batch each get their own, so
 * that a position is always that of the group's last update of the document.
 */
import type { Position, Written } from '../document-store.js';
import type { AppendGroup } from '../group-commit.js';
import type { AppendEntry } from './statements.js';

/** Bytes of updates that groups waiting behind a commit may join into one transaction; a larger group goes alone. */
export const BATCH_BYTES = 16 * 1024 * 1024;

export type Group = AppendGroup<AppendEntry, Written>;

/** Where a written group left each document: the position of its last update there. */
class WrittenGroup implements Written {
  constructor(private readonly last: ReadonlyMap<string, Position>) {}

  position(name: string): Position {
    const position = this.last.get(name);
    if (position === undefined) throw new RangeError(`this write held no update of ${JSON.stringify(name)}`);
    return position;
  }
}

/**
 * Each group's `Written`, from the documents' heads after the whole batch: a group's last update
 * of a document is at the head less the document's updates in the groups after it.
 */
export function writtenGroups(batch: readonly Group[], heads: ReadonlyMap<string, Position>): Written[] {
  const later = new Map<string, number>();
  const written: Written[] = [];
  for (let i = batch.length - 1; i >= 0; i--) {
    const counts = new Map<string, number>();
    for (const { name } of batch[i]!.entries) counts.set(name, (counts.get(name) ?? 0) + 1);
    const last = new Map<string, Position>();
    for (const [name, count] of counts) {
      const head = heads.get(name);
      if (head === undefined) throw new Error(`the database returned no head for ${JSON.stringify(name)}`);
      last.set(name, head - (later.get(name) ?? 0));
      later.set(name, (later.get(name) ?? 0) + count);
    }
    written[i] = new WrittenGroup(last);
  }
  return written;
}

/** The documents a group writes to. */
export function documentsOf(group: Group): Set<string> {
  return new Set(group.entries.map((entry) => entry.name));
}

/** The bytes of a group's updates. */
export function groupBytes(group: Group): number {
  let bytes = 0;
  for (const { update } of group.entries) bytes += update.byteLength;
  return bytes;
}
