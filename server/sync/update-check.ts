/**
 * What an update does to a document.
 *
 * - Whether an update would change a document, decided without applying it (`changesNothing`). A
 *   read-only client answers the server's sync step 1 with a sync step 2 like any other client; on
 *   a reconnect it holds nothing the server lacks, but the message still carries its whole delete
 *   set. Such a message is harmless and must pass, while anything that would add a struct, delete
 *   an item or even park something in the document's pending queue must not. Comparing the update
 *   against the document's structs answers that exactly, in time proportional to the update (plus
 *   the structs its deletions span), without copying the document.
 * - Whether an update placed an item where its origins say it cannot be (`findMisplacedItem`).
 */
import * as Y from 'yjs';

/**
 * True when applying `update` (a valid v1 update: see `validateUpdate`) to `doc` would change
 * nothing: every struct in it is already in `doc`, and every range it deletes is already deleted.
 */
export function changesNothing(doc: Y.Doc, update: Uint8Array): boolean {
  const { structs, ds } = Y.decodeUpdate(update);
  for (const struct of structs) {
    if (struct instanceof Y.Skip) continue;
    if (struct.id.clock + struct.length > Y.getState(doc.store, struct.id.client)) return false;
  }
  for (const [client, ranges] of ds.clients) {
    const known = doc.store.clients.get(client);
    for (const { clock, len } of ranges) {
      if (len === 0) continue;
      if (!known || clock + len > Y.getState(doc.store, client)) return false;
      // Structs are sorted by clock and cover every clock below the state without gaps.
      for (let index = Y.findIndexSS(known, clock); index < known.length; index++) {
        const struct = known[index]!;
        if (struct.id.clock >= clock + len) break;
        if (!struct.deleted) return false;
      }
    }
  }
  return true;
}

/**
 * The first item integrated since `beforeState` that does not lie between its origin and its right
 * origin, or null.
 *
 * An item records the item left of it when it was created (its origin) and the item right of it
 * (its right origin); Yjs places it by scanning right from the origin towards the right origin, and
 * an honest client's item always ends up between the two. A forged item whose origins lie the
 * wrong way round, or in another list, is integrated without complaint, but where it lands then
 * depends on how the list happens to be split into items: a client that loads the whole document
 * at once places it elsewhere than the clients that were live, and their documents diverge for
 * good. Walking from the item to each origin costs no more than the scan Yjs has just done, except
 * for a misplaced item, which ends the walk (and the update) at once.
 */
export function findMisplacedItem(doc: Y.Doc, beforeState: ReadonlyMap<number, number>): Y.Item | null {
  for (const [client, structs] of doc.store.clients) {
    const before = beforeState.get(client) ?? 0;
    if (Y.getState(doc.store, client) <= before) continue;
    for (let index = Y.findIndexSS(structs, before); index < structs.length; index++) {
      const item = structs[index];
      if (!(item instanceof Y.Item)) continue;
      if (item.origin !== null && !reaches(item.left, item.origin, 'left')) return item;
      if (item.rightOrigin !== null && !reaches(item.right, item.rightOrigin, 'right')) return item;
    }
  }
  return null;
}

/** Whether walking from `start` towards `direction` meets the item that holds `id`. */
function reaches(start: Y.Item | null, id: Y.ID, direction: 'left' | 'right'): boolean {
  for (let item = start; item !== null; item = item[direction]) {
    const { client, clock } = item.id;
    if (client === id.client && clock <= id.clock && id.clock < clock + item.length) return true;
  }
  return false;
}
