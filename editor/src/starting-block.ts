/**
 * The block an empty document starts with, written to the shared document before the first edit
 * and outside the undo history.
 *
 * An empty XmlFragment shows as the schema's starting content (one empty paragraph), which
 * y-prosemirror leaves out of the shared document until something is typed; then it writes the
 * paragraph and the typing in one change. Undoing that change removed the paragraph too, the
 * emptied document showed a new starting paragraph, and y-prosemirror wrote that one as a change of
 * its own, which emptied the redo stack: in a new document, Ctrl+Z and then Ctrl+Shift+Z lost what
 * had been typed. Written beforehand and untracked, the paragraph stays when the typing is undone.
 *
 * It is written under y-prosemirror's own lock, so y-prosemirror does not show it anew: the view
 * already shows it, and the edit, built on that view's document, applies as it is. (Shown anew in
 * the middle of the edit's dispatch, a divider inserted beside it as the first edit sent the next
 * keystroke above the divider.) y-prosemirror then matches the written block to the view's.
 */
import type { Node } from 'prosemirror-model';
import type { EditorState, Transaction } from 'prosemirror-state';
import { ySyncPluginKey } from 'y-prosemirror';
import * as Y from 'yjs';

/** The origin of the write: not one the undo manager tracks, so no undo or redo step records it. */
export const STARTING_BLOCK_ORIGIN = Symbol('collab-editor: starting block');

/**
 * Called before `transaction` is applied to `state`, a view's state: if it is an edit of an empty
 * document's starting content, writes that content to `fragment` first.
 */
export function writeStartingBlock(fragment: Y.XmlFragment, state: EditorState, transaction: Transaction): void {
  if (!transaction.docChanged || fragment.length > 0) return;
  // y-prosemirror's own rendering of the shared document, which has nothing to write.
  if ((transaction.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined)?.isChangeOrigin === true) return;
  const { doc } = state;
  const start = doc.type.createAndFill();
  if (start === null || !doc.eq(start)) return;
  const binding = (ySyncPluginKey.getState(state) as { binding?: { mux: (write: () => void) => void } } | undefined)?.binding;
  if (binding === undefined) return;
  const blocks: Y.XmlElement[] = [];
  doc.forEach((block) => blocks.push(elementOf(block)));
  binding.mux(() => fragment.doc?.transact(() => fragment.insert(0, blocks), STARTING_BLOCK_ORIGIN));
}

/** A textless node as y-prosemirror stores it: an element named after its type, its non-null attributes. */
function elementOf(node: Node): Y.XmlElement {
  const element = new Y.XmlElement(node.type.name);
  for (const [key, value] of Object.entries(node.attrs)) {
    if (value !== null) element.setAttribute(key, value);
  }
  const children: Y.XmlElement[] = [];
  node.forEach((child) => children.push(elementOf(child)));
  element.insert(0, children);
  return element;
}
