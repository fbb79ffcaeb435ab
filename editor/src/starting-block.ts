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
 */
import type { Node } from 'prosemirror-model';
import type { Transaction } from 'prosemirror-state';
import { ySyncPluginKey } from 'y-prosemirror';
import * as Y from 'yjs';

/** The origin of the write: not one the undo manager tracks, so no undo or redo step records it. */
export const STARTING_BLOCK_ORIGIN = Symbol('collab-editor: starting block');

/**
 * Called before `transaction` is applied to a view showing `doc`: if it is an edit of an empty
 * document's starting content, writes that content to `fragment` first. y-prosemirror then shows
 * the written block (a document equal to `doc`, so `transaction` still applies) and edits it in place.
 */
export function writeStartingBlock(fragment: Y.XmlFragment, doc: Node, transaction: Transaction): void {
  if (!transaction.docChanged || fragment.length > 0) return;
  // y-prosemirror's own rendering of the shared document, which has nothing to write.
  if ((transaction.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined)?.isChangeOrigin === true) return;
  const start = doc.type.createAndFill();
  if (start === null || !doc.eq(start)) return;
  const blocks: Y.XmlElement[] = [];
  doc.forEach((block) => blocks.push(elementOf(block)));
  fragment.doc?.transact(() => fragment.insert(0, blocks), STARTING_BLOCK_ORIGIN);
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
