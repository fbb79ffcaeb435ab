/**
 * Replacing a document's content as an ordinary collaborative edit: the update that makes its
 * `prosemirror` fragment hold a given ProseMirror doc, made on a copy, for the caller to apply,
 * store and broadcast as it does any client's update.
 *
 * The edit is y-prosemirror's diff (`updateYFragment`), the one its editor makes of each
 * transaction: it matches children from both ends, edits in place the elements whose name
 * stayed, and diffs text. What did not change keeps its Yjs items, so what others type
 * concurrently in an unchanged paragraph survives the replace, and the update is about the size
 * of the change.
 */
import type { Mark, Node } from 'prosemirror-model';
import { updateYFragment } from 'y-prosemirror';
import * as Y from 'yjs';
import { ContentCheck } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { checkContent, contentOf } from './content.js';
import { DocCopy } from './doc-copy.js';
import { UnreadableContentError } from './errors.js';

/** A Yjs text delta, as `Y.XmlText.toDelta` gives it. */
type Delta = Array<{ insert?: unknown; attributes?: Record<string, unknown> }>;

/**
 * The Yjs update that makes the content of `doc` equal `target`, or null when it already does.
 * `doc` is not changed. Throws `ContentError` when `target` is not a valid doc of the schema within
 * `MAX_DEPTH`, and `UnreadableContentError` when the current content cannot be read whole: the diff
 * would delete what it cannot read, for everyone.
 */
export function replaceContent(doc: Y.Doc, target: Node): Uint8Array | null {
  checkContent(target);
  const copy = new DocCopy(doc);
  const fragment = copy.contentFragment();
  const problem = new ContentCheck(fragment, schema).problem();
  if (problem !== null) throw new UnreadableContentError(problem);
  const update = copy.edit(() => writeContent(copy.doc, fragment, target));
  verifyContent(fragment, target);
  return update;
}

/**
 * Makes `fragment` (of `doc`, a copy) hold `target`. Call it inside a transaction of `doc`, so
 * that the whole edit is one update. A fresh mapping: no element is known to stand for a node,
 * so each is compared by its content.
 */
export function writeContent(doc: Y.Doc, fragment: Y.XmlFragment, target: Node): void {
  updateYFragment(doc, fragment, target, { mapping: new Map(), isOMark: new Map() });
  repairFormatting(fragment, target);
}

/**
 * Throws unless `fragment` now reads as `target`: the diff is y-prosemirror's, and an update that
 * writes something else must not leave here. `UnreadableContentError` if the editor could not
 * show the result; a plain `Error` if it shows something else.
 */
export function verifyContent(fragment: Y.XmlFragment, target: Node): void {
  let written: Node;
  try {
    written = contentOf(fragment);
  } catch (error) {
    if (error instanceof UnreadableContentError) throw new UnreadableContentError(`the edit would leave content the editor cannot show (${error.reason})`);
    throw error;
  }
  if (!written.eq(target)) throw new Error('the edit made by y-prosemirror does not give the content asked for');
}

/**
 * Sets the formatting of the text runs the diff left formatted otherwise than `node`'s text.
 * y-prosemirror (1.3.7) takes a run for unchanged when its formatting has as many marks as the
 * target's and each of its marks has the attributes the target gives a mark of that name, which
 * a mark without attributes always has: `code` is taken for `strong`, and stays. Where the tree
 * does not line up with `node`, nothing is done: `verifyContent` tells.
 */
function repairFormatting(element: Y.XmlFragment, node: Node): void {
  const children = element.toArray();
  const content = runsOf(node);
  if (children.length !== content.length) return;
  children.forEach((child, index) => {
    const expected = content[index]!;
    if (child instanceof Y.XmlText && Array.isArray(expected)) repairRun(child, expected);
    else if (child instanceof Y.XmlElement && !Array.isArray(expected)) repairFormatting(child, expected);
  });
}

function repairRun(text: Y.XmlText, nodes: readonly Node[]): void {
  const delta = text.toDelta() as Delta;
  if (delta.length !== nodes.length || delta.some((piece, index) => piece.insert !== nodes[index]!.text)) return;
  const formats = nodes.map((textNode) => formattingOf(textNode.marks));
  if (formats.some((format) => format === null)) return;
  if (delta.every((piece, index) => canonical(piece.attributes ?? {}) === canonical(formats[index]!))) return;
  const cleared = Object.fromEntries([...new Set(delta.flatMap((piece) => Object.keys(piece.attributes ?? {})))].map((key) => [key, null]));
  text.applyDelta(nodes.map((textNode, index) => ({ retain: textNode.text!.length, attributes: { ...cleared, ...formats[index]! } })));
}

/** The children of `node` as y-prosemirror lays them out: elements, and runs of adjacent text nodes (one `Y.XmlText` each). */
function runsOf(node: Node): Array<Node | Node[]> {
  const runs: Array<Node | Node[]> = [];
  node.forEach((child) => {
    const last = runs[runs.length - 1];
    if (child.isText && Array.isArray(last)) last.push(child);
    else runs.push(child.isText ? [child] : child);
  });
  return runs;
}

/** The formatting y-prosemirror stores for `marks`, or null for a mark that may overlap itself (stored under a hashed name). */
function formattingOf(marks: readonly Mark[]): Record<string, unknown> | null {
  const format: Record<string, unknown> = {};
  for (const mark of marks) {
    if (!mark.type.excludes(mark.type)) return null;
    format[mark.type.name] = mark.attrs;
  }
  return format;
}

/** A formatting as a string, keys sorted and null attributes left out, as y-prosemirror compares them. */
function canonical(format: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(format)
      .sort()
      .map((name) => {
        const attrs = (format[name] ?? {}) as Record<string, unknown>;
        return [
          name,
          Object.keys(attrs)
            .sort()
            .filter((key) => attrs[key] !== null)
            .map((key) => [key, attrs[key]]),
        ];
      }),
  );
}
