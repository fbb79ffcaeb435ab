/**
 * The formatting commands behind the toolbar and the keyboard shortcuts, and the queries that tell
 * whether a format is active at the selection (to highlight toolbar buttons).
 */
import { chainCommands, exitCode, lift, setBlockType, toggleMark, wrapIn } from 'prosemirror-commands';
import { NodeRange, type Attrs, type MarkType, type Node, type NodeType } from 'prosemirror-model';
import { EditorState, TextSelection, type Command, type Transaction } from 'prosemirror-state';
import { canJoin, canSplit, findWrapping } from 'prosemirror-transform';
import { liftListItem, wrapInList } from 'prosemirror-schema-list';
import { redoCommand, undoCommand } from 'y-prosemirror';
import { safeHref, schema } from '../../protocol/document/schema.js';

const { nodes, marks } = schema;

export const toggleBold: Command = toggleMark(marks['strong']!);
export const toggleItalic: Command = toggleMark(marks['em']!);
export const toggleCode: Command = toggleMark(marks['code']!);

export const setParagraph: Command = setBlockType(nodes['paragraph']!);

/** Makes the selected blocks headings of `level` (1-6), or paragraphs if they already are. */
export function toggleHeading(level: number): Command {
  if (!Number.isInteger(level) || level < 1 || level > 6) throw new RangeError(`heading level ${level} is not 1-6`);
  return (state, dispatch) =>
    blockActive(state, nodes['heading']!, { level }) ? setParagraph(state, dispatch) : setBlockType(nodes['heading']!, { level })(state, dispatch);
}

/**
 * Lists for the selection. In a list of `listType` (the innermost list around the selection), lifts
 * the selected items out of it; in a list of another type, makes that list a `listType` list,
 * keeping its items and their nesting; outside any list, wraps the selected blocks in a new one
 * (with the lists among them, see `listBlocks`).
 */
export function toggleList(listType: NodeType): Command {
  return (state, dispatch) => {
    const list = listAround(state);
    if (list === null) return listBlocks(state, listType, dispatch);
    if (list.node.type === listType) return liftListItem(nodes['list_item']!)(withTextSelection(state), dispatch);
    if (!listType.validContent(list.node.content)) return false;
    if (dispatch) dispatch(state.tr.setNodeMarkup(list.pos, listType).scrollIntoView());
    return true;
  };
}

/**
 * Wraps the selected blocks in a list of `listType`. Where they include lists (after Ctrl+A, say),
 * those become `listType` lists and everything joins into one list, instead of the lists being
 * nested in a new item.
 */
function listBlocks(state: EditorState, listType: NodeType, dispatch?: (tr: Transaction) => void): boolean {
  const { $from, $to } = withTextSelection(state).selection;
  const range = $from.blockRange($to);
  const blocks: Node[] = [];
  range?.parent.forEach((child, _offset, index) => {
    if (index >= range.startIndex && index < range.endIndex) blocks.push(child);
  });
  if (range === null || !blocks.some((block) => LIST_TYPES.has(block.type))) return wrapInList(listType)(state, dispatch);
  const tr = state.tr;
  // From the last block back, so that the positions of those before stay valid.
  let end = range.end;
  for (const block of [...blocks].reverse()) {
    const pos = end - block.nodeSize;
    if (LIST_TYPES.has(block.type)) {
      if (!listType.validContent(block.content)) return false;
      tr.setNodeMarkup(pos, listType);
    } else {
      const blockRange = new NodeRange(tr.doc.resolve(pos), tr.doc.resolve(end), range.depth);
      const wrapping = findWrapping(blockRange, listType);
      if (wrapping === null) return false;
      tr.wrap(blockRange, wrapping);
    }
    end = pos;
  }
  // Now a run of lists of `listType`: join each to the one before it, again from the last.
  const $start = tr.doc.resolve(range.start);
  const joins: number[] = [];
  let pos = range.start;
  for (let index = $start.index(); index < $start.index() + blocks.length - 1; index++) {
    pos += $start.parent.child(index).nodeSize;
    joins.push(pos);
  }
  for (const join of joins.reverse()) if (canJoin(tr.doc, join)) tr.join(join);
  if (dispatch) dispatch(tr.scrollIntoView());
  return true;
}

export const toggleBulletList: Command = toggleList(nodes['bullet_list']!);
export const toggleOrderedList: Command = toggleList(nodes['ordered_list']!);

export const toggleBlockquote: Command = (state, dispatch) =>
  ancestorActive(state, nodes['blockquote']!) ? lift(state, dispatch) : wrapIn(nodes['blockquote']!)(state, dispatch);

export const toggleCodeBlock: Command = (state, dispatch) =>
  blockActive(state, nodes['code_block']!) ? setParagraph(state, dispatch) : setBlockType(nodes['code_block']!)(state, dispatch);

/**
 * Inserts a horizontal rule at the selection (replacing selected content) and puts the caret in the
 * block after it, so typing goes on below the rule, as after the `---` shortcut. On an empty line or
 * at the start of a block the rule goes above it; at the end of a block, an empty paragraph comes
 * after the rule; in the middle of a block, the block is split around the rule.
 */
export const insertHorizontalRule: Command = (state, dispatch, view) => {
  const hr = nodes['horizontal_rule']!;
  const tr = state.tr;
  if (!state.selection.empty) tr.deleteSelection();
  const $pos = tr.selection.$from;
  if (!$pos.parent.isTextblock) return false;
  const container = $pos.node(-1);
  const index = $pos.index(-1);
  if ($pos.parentOffset === 0 && container.canReplaceWith(index, index, hr)) {
    // The caret stays in the block, which now follows the rule.
    tr.insert($pos.before(), hr.create());
  } else {
    // The first paragraph of a list item cannot follow a rule: split there too, which leaves it empty.
    const atEnd = $pos.parentOffset === $pos.parent.content.size;
    const after = atEnd ? [{ type: nodes['paragraph']! }] : undefined;
    if (!canSplit(tr.doc, $pos.pos, 1, after)) return false;
    tr.split($pos.pos, 1, after);
    const between = $pos.pos + 1;
    const $between = tr.doc.resolve(between);
    if (!$between.parent.canReplaceWith($between.index(), $between.index(), hr)) return false;
    tr.insert(between, hr.create());
    // Past the rule (a leaf of size 1) and the next block's opening.
    tr.setSelection(TextSelection.create(tr.doc, between + 2));
  }
  if (dispatch) {
    dispatch(tr.scrollIntoView());
    // Puts the browser's caret where ProseMirror's is, anew. With the rule inserted before the
    // caret's block, ProseMirror leaves the DOM selection as it is, and Chromium, whose caret was
    // last placed before there was a rule, typed the next key above the rule (when nothing had been
    // typed since the caret was placed: a divider as the first edit of a new document).
    if (view && !view.isDestroyed) {
      // A shadow root has getSelection in Chromium only; the document's serves elsewhere.
      const root = view.root as Partial<Pick<Document, 'getSelection'>>;
      (typeof root.getSelection === 'function' ? root.getSelection() : view.dom.ownerDocument.getSelection())?.removeAllRanges();
      view.focus();
    }
  }
  return true;
};

export const insertHardBreak: Command = chainCommands(exitCode, (state, dispatch) => {
  if (dispatch) dispatch(state.tr.replaceSelectionWith(nodes['hard_break']!.create()).scrollIntoView());
  return true;
});

/**
 * Links the selected text to `href`; with an empty selection inside a link, or `href` null or
 * empty, removes the link around the selection instead. An unsafe `href` (see `safeHref`) is refused.
 */
export function setLink(href: string | null): Command {
  const link = marks['link']!;
  return (state, dispatch) => {
    const { from, to, empty } = state.selection;
    const range = empty ? markRange(state, link) : { from, to };
    if (range === null) return false;
    if (href === null || href.trim() === '') {
      if (dispatch) dispatch(state.tr.removeMark(range.from, range.to, link));
      return true;
    }
    const target = safeHref(href);
    if (target === null) return false;
    if (dispatch) dispatch(state.tr.removeMark(range.from, range.to, link).addMark(range.from, range.to, link.create({ href: target })));
    return true;
  };
}

/** Undo and redo of this user's own changes (y-prosemirror's UndoManager tracks only local edits). */
export const undo: Command = undoCommand;
export const redo: Command = redoCommand;

export function markActive(state: EditorState, type: MarkType): boolean {
  const { from, $from, to, empty } = state.selection;
  if (empty) return type.isInSet(state.storedMarks ?? $from.marks()) !== undefined;
  return state.doc.rangeHasMark(from, to, type);
}

/** The `href` of the link at the caret, or of the first link in the selection; null if there is none. */
export function activeLink(state: EditorState): string | null {
  const link = marks['link']!;
  const { from, to, empty, $from } = state.selection;
  if (empty) {
    const mark = link.isInSet($from.marks());
    return mark ? String(mark.attrs['href']) : null;
  }
  let href: string | null = null;
  state.doc.nodesBetween(from, to, (node) => {
    const mark = href === null ? link.isInSet(node.marks) : undefined;
    if (mark) href = String(mark.attrs['href']);
    return href === null;
  });
  return href;
}

/** Whether the selection's textblock is of `type` (and has `attrs`, if given). */
export function blockActive(state: EditorState, type: NodeType, attrs?: Attrs): boolean {
  const { $from, to } = state.selection;
  if (to > $from.end()) return false;
  const parent = $from.parent;
  if (parent.type !== type) return false;
  return attrs === undefined || Object.entries(attrs).every(([key, value]) => parent.attrs[key] === value);
}

/** Whether the selection is inside a node of `type`. */
export function ancestorActive(state: EditorState, type: NodeType): boolean {
  const { $from } = state.selection;
  for (let depth = $from.depth; depth > 0; depth--) if ($from.node(depth).type === type) return true;
  return false;
}

/** Whether the innermost list around the selection is of `listType`. */
export function inList(state: EditorState, listType: NodeType): boolean {
  return listAround(state)?.node.type === listType;
}

const LIST_TYPES: ReadonlySet<NodeType> = new Set([nodes['bullet_list']!, nodes['ordered_list']!]);

/** The innermost list holding all the text of the selection, and its position; null if there is none. */
function listAround(state: EditorState): { node: Node; pos: number } | null {
  const { $from, $to } = withTextSelection(state).selection;
  const range = $from.blockRange($to, (node) => LIST_TYPES.has(node.type));
  return range === null || range.depth === 0 ? null : { node: range.parent, pos: range.$from.before(range.depth) };
}

/**
 * `state`, or a copy of it (without plugins) whose selection runs from the start of the first
 * selected text to the end of the last, if the selection ends between blocks: after Ctrl+A the
 * selection starts before the document's first list, and no list would be around it.
 */
function withTextSelection(state: EditorState): EditorState {
  const { doc, selection } = state;
  const { $from, $to } = selection;
  if ($from.parent.isTextblock && $to.parent.isTextblock) return state;
  let from = $from.parent.isTextblock ? $from.pos : null;
  let to = $to.parent.isTextblock ? $to.pos : null;
  let first: number | null = null;
  let last: number | null = null;
  doc.nodesBetween(selection.from, selection.to, (node, pos) => {
    if (!node.isTextblock) return true;
    first ??= pos + 1;
    last = pos + node.nodeSize - 1;
    return false;
  });
  from ??= first;
  to ??= last;
  if (from === null || to === null || from > to) return state;
  return EditorState.create({ doc, selection: TextSelection.create(doc, from, to) });
}

/** The extent of the `type` mark around an empty selection, or null if there is none. */
function markRange(state: EditorState, type: MarkType): { from: number; to: number } | null {
  const { $from } = state.selection;
  const start = $from.start();
  let run: { from: number; to: number } | null = null;
  let result: { from: number; to: number } | null = null;
  $from.parent.forEach((child, offset) => {
    const from = start + offset;
    const to = from + child.nodeSize;
    if (!type.isInSet(child.marks)) {
      run = null;
      return;
    }
    run = run !== null && run.to === from ? { from: run.from, to } : { from, to };
    if (run.from <= $from.pos && $from.pos <= run.to) result = run;
  });
  return result;
}
