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
 * - What an update needs that a document lacks (`missingDependency`): a writer over HTTP gets no
 *   second message to complete it, so such an update is refused rather than left waiting.
 */
import * as Y from 'yjs';
import { firstItem, newestItemOfKey } from '../../protocol/yjs-internals.js';
import { checkDeadline } from './update-time.js';

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
 * Why `update` (a valid v1 update) could not be integrated into `doc` in full, or null if it can:
 * a client's structs that start past what the document and the update hold of that client, an
 * item whose origin or parent is in neither, or a deletion of clocks neither has. Yjs would keep
 * such parts waiting in its pending queues for updates that may never come.
 */
export function missingDependency(doc: Y.Doc, update: Uint8Array): string | null {
  const { structs, ds } = Y.decodeUpdate(update);
  // How far each client's clocks reach once the update is in: structs continue the document's.
  const reach = new Map<number, number>();
  const reachOf = (client: number): number => reach.get(client) ?? Y.getState(doc.store, client);
  for (const struct of structs) {
    if (struct instanceof Y.Skip) continue;
    const { client, clock } = struct.id;
    if (clock > reachOf(client)) return `it needs client ${client}'s edits from clock ${reachOf(client)}, which this document does not have`;
    reach.set(client, Math.max(reachOf(client), clock + struct.length));
  }
  const lacks = (id: Y.ID | null): boolean => id !== null && id.clock >= reachOf(id.client);
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue;
    const parent = struct.parent instanceof Y.ID ? struct.parent : null;
    for (const dependency of [struct.origin, struct.rightOrigin, parent]) {
      if (lacks(dependency)) return `it refers to client ${dependency!.client}'s clock ${dependency!.clock}, which this document does not have`;
    }
  }
  for (const [client, ranges] of ds.clients) {
    for (const { clock, len } of ranges) {
      if (len > 0 && clock + len > reachOf(client)) return `it deletes client ${client}'s clocks up to ${clock + len}, which this document does not have`;
    }
  }
  return null;
}

/**
 * The first item integrated since `beforeState` that does not lie between its origin and its right
 * origin, or null. An honest client's item always lies between them; a forged one is integrated
 * without complaint, but lands wherever the list happens to be split into items, so clients that
 * load the document whole place it elsewhere than live ones and diverge for good.
 *
 * Each item is checked by walking from it towards each origin, at most `SHORT_WALK` items (for a
 * keystroke the origins are its neighbours); past that, its list is numbered once and the origins
 * compared by number, so honest updates that insert many items at one place stay linear. The walks
 * and the numbering stop at the deadline of the update being applied (see `update-time.ts`).
 */
export function findMisplacedItem(doc: Y.Doc, beforeState: ReadonlyMap<number, number>): Y.Item | null {
  let numbered: ListNumbers | null = null;
  for (const [client, structs] of doc.store.clients) {
    const before = beforeState.get(client) ?? 0;
    if (Y.getState(doc.store, client) <= before) continue;
    for (let index = Y.findIndexSS(structs, before); index < structs.length; index++) {
      const item = structs[index];
      if (!(item instanceof Y.Item)) continue;
      const left = item.origin === null ? true : reaches(item.left, item.origin, 'left');
      const right = item.rightOrigin === null ? true : reaches(item.right, item.rightOrigin, 'right');
      if (left === false || right === false) return item;
      if (left === true && right === true) continue;
      numbered ??= new ListNumbers(doc);
      const at = numbered.of(item);
      if (item.origin !== null && !(numbered.of(item.origin, item) < at)) return item;
      if (item.rightOrigin !== null && !(numbered.of(item.rightOrigin, item) > at)) return item;
    }
  }
  return null;
}

/** How far `findMisplacedItem` walks from an item towards an origin before it numbers the list instead. */
const SHORT_WALK = 64;

/** Whether walking from `start` towards `direction` meets the item that holds `id`; null past `SHORT_WALK` items. */
function reaches(start: Y.Item | null, id: Y.ID, direction: 'left' | 'right'): boolean | null {
  let steps = 0;
  for (let item = start; item !== null; item = item[direction]) {
    if (++steps > SHORT_WALK) return null;
    const { client, clock } = item.id;
    if (client === id.client && clock <= id.clock && id.clock < clock + item.length) return true;
  }
  return false;
}

/** The position of each item in its list (a type's sequence, or the history of one map key), numbered on first use. */
class ListNumbers {
  private readonly sequences = new Map<Y.AbstractType<unknown>, Map<Y.Item, number>>();
  private readonly keys = new Map<Y.AbstractType<unknown>, Map<string, Map<Y.Item, number>>>();

  constructor(private readonly doc: Y.Doc) {}

  /**
   * The position of `target` (an item, or the item holding an ID) in the list of `member`, which
   * defaults to `target` itself; NaN when it is not in that list.
   */
  of(target: Y.Item | Y.ID, member?: Y.Item): number {
    const item = target instanceof Y.Item ? target : Y.getItem(this.doc.store, target);
    if (!(item instanceof Y.Item)) return NaN;
    return this.list(member ?? item)?.get(item) ?? NaN;
  }

  private list(member: Y.Item): Map<Y.Item, number> | null {
    const parent = member.parent;
    if (!(parent instanceof Y.AbstractType)) return null;
    const key = member.parentSub;
    if (key === null) {
      let numbers = this.sequences.get(parent);
      if (numbers === undefined) this.sequences.set(parent, (numbers = number(firstItem(parent))));
      return numbers;
    }
    let byKey = this.keys.get(parent);
    if (byKey === undefined) this.keys.set(parent, (byKey = new Map()));
    let numbers = byKey.get(key);
    if (numbers === undefined) {
      // A key's history is kept from its first value to its last (the one in `_map`).
      let first = newestItemOfKey(parent, key);
      let steps = 0;
      while (first?.left) {
        first = first.left;
        if ((++steps & 1023) === 0) checkDeadline();
      }
      byKey.set(key, (numbers = number(first)));
    }
    return numbers;
  }
}

/** The items from `first` rightwards, numbered in order. */
function number(first: Y.Item | null): Map<Y.Item, number> {
  const numbers = new Map<Y.Item, number>();
  for (let item = first; item !== null; item = item.right) {
    numbers.set(item, numbers.size);
    if ((numbers.size & 1023) === 0) checkDeadline();
  }
  return numbers;
}
