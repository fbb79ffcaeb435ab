/**
 * Keeps the editor from nesting blocks deeper than the content check allows (`MAX_DEPTH`): past
 * it, every editor of the document pauses (see `content-check.ts`), this one too, and no editor
 * could undo it. A paste of 120 nested lists, say, is refused whole.
 */
import type { Node } from 'prosemirror-model';
import { Plugin, type Transaction } from 'prosemirror-state';
import { ySyncPluginKey } from 'y-prosemirror';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';

export function depthLimit(max = MAX_DEPTH): Plugin {
  return new Plugin({ filterTransaction: (transaction) => !transaction.docChanged || fromSharedDocument(transaction) || withinDepth(transaction, max) });
}

/**
 * Whether the transaction is y-prosemirror showing the shared document, which the content check has
 * already passed (it pauses the editor first past the limit). Refusing one would leave the editor
 * showing something else than the document, and each one replaces the whole document: walking it
 * would make every remote keystroke cost time in proportion to the document.
 */
function fromSharedDocument(transaction: Transaction): boolean {
  return (transaction.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined)?.isChangeOrigin === true;
}

/** Whether every block and leaf the transaction touched is nested at most `max` elements deep. */
function withinDepth(transaction: Transaction, max: number): boolean {
  const { doc, mapping } = transaction;
  let within = true;
  mapping.maps.forEach((map, index) => {
    const after = mapping.slice(index + 1);
    map.forEach((_oldStart, _oldEnd, newStart, newEnd) => {
      if (within && deepest(doc, after.map(newStart, -1), after.map(newEnd, 1), 0) > max) within = false;
    });
  });
  return within;
}

/**
 * How deeply the textblocks and leaves of `node`'s content between `from` and `to` (positions in
 * that content, chosen as `nodesBetween` chooses) are nested, `node` being `depth` deep: a
 * top-level block is 1 deep. Containers are walked once, so this is linear in what it visits.
 */
function deepest(node: Node, from: number, to: number, depth: number): number {
  let result = 0;
  for (let index = 0, pos = 0; index < node.childCount && pos < to; index++) {
    const child = node.child(index);
    const end = pos + child.nodeSize;
    if (end > from) {
      const inner =
        child.isTextblock || child.isLeaf ? depth + 1 : deepest(child, Math.max(0, from - pos - 1), Math.min(child.content.size, to - pos - 1), depth + 1);
      result = Math.max(result, inner);
    }
    pos = end;
  }
  return result;
}
