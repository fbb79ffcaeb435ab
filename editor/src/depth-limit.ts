/**
 * Keeps the editor from nesting blocks deeper than the content check allows (`MAX_DEPTH`): past
 * it, every editor of the document pauses (see `content-check.ts`), this one too, and no editor
 * could undo it. A paste of 120 nested lists, say, is refused whole.
 */
import { Plugin, type Transaction } from 'prosemirror-state';
import { MAX_DEPTH } from './content-check.js';

export function depthLimit(max = MAX_DEPTH): Plugin {
  return new Plugin({ filterTransaction: (transaction) => !transaction.docChanged || withinDepth(transaction, max) });
}

/** Whether every block and leaf the transaction touched is nested at most `max` elements deep. */
function withinDepth(transaction: Transaction, max: number): boolean {
  const { doc, mapping } = transaction;
  let within = true;
  mapping.maps.forEach((map, index) => {
    const after = mapping.slice(index + 1);
    map.forEach((_oldStart, _oldEnd, newStart, newEnd) => {
      if (!within) return;
      doc.nodesBetween(after.map(newStart, -1), after.map(newEnd, 1), (node, pos) => {
        if (!within) return false;
        if (!node.isTextblock && !node.isLeaf) return true;
        // A top-level block is nested one deep (it sits at depth 0 of the document).
        if (doc.resolve(pos).depth + 1 > max) within = false;
        return false;
      });
    });
  });
  return within;
}
