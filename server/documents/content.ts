/**
 * The editor's content of a document as a ProseMirror doc, and the checks every content given in
 * another form passes before it may become the document's.
 */
import { type Node, Slice } from 'prosemirror-model';
import { Transform } from 'prosemirror-transform';
import { yXmlFragmentToProseMirrorFragment } from 'y-prosemirror';
import type * as Y from 'yjs';
import { ContentCheck, MAX_DEPTH } from '../../protocol/document/content-check.js';
import { safeHref, schema } from '../../protocol/document/schema.js';
import { DocCopy } from './doc-copy.js';
import { ContentError, UnreadableContentError } from './errors.js';

/**
 * The content of `doc` as the editor shows it. `doc` is not changed: it is read through a copy.
 * Throws `UnreadableContentError` when the editor could not show it whole (see `ContentCheck`).
 */
export function readContent(doc: Y.Doc): Node {
  return contentOf(new DocCopy(doc).contentFragment());
}

/**
 * The content of `fragment` as the editor shows it, or `UnreadableContentError`.
 *
 * y-prosemirror's conversion deletes what it cannot build, so `fragment` must belong to a copy
 * (`DocCopy`); `ContentCheck` first makes sure that what it would delete holds nothing. The top
 * level goes in as y-prosemirror's editor puts it in (a replace into an empty document), so an
 * empty fragment reads as one empty paragraph, as the editor shows it.
 */
export function contentOf(fragment: Y.XmlFragment): Node {
  const problem = new ContentCheck(fragment, schema).problem();
  if (problem !== null) throw new UnreadableContentError(problem);
  const children = yXmlFragmentToProseMirrorFragment(fragment, schema);
  const empty = emptyContent();
  return new Transform(empty).replace(0, empty.content.size, new Slice(children, 0, 0)).doc;
}

/** A document holding one empty paragraph, as the editor shows an empty fragment. */
export function emptyContent(): Node {
  return schema.topNodeType.createAndFill()!;
}

/**
 * Throws `ContentError` unless `doc` is a valid doc of the schema whose elements nest at most
 * `MAX_DEPTH` deep, counted as `ContentCheck` counts them (the top-level blocks are at depth 1; text is
 * not an element). The depth is measured without recursion, so any depth is safe to give.
 */
export function checkContent(doc: Node): void {
  if (doc.type !== schema.topNodeType)
    throw new ContentError('invalid-document', `the content must be a "${schema.topNodeType.name}" node, not "${doc.type.name}"`);
  const deepest = deepestElement(doc);
  if (deepest > MAX_DEPTH) throw tooDeep();
  try {
    doc.check();
  } catch (error) {
    throw new ContentError('invalid-document', `the content does not fit the document's schema: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The error for content nested past `MAX_DEPTH`, the same whatever form it came in. */
export function tooDeep(): ContentError {
  return new ContentError('too-deep', `the content is nested more than ${MAX_DEPTH} levels deep (quotes, lists and their items each count one)`);
}

/** `href` if a link may lead there (see `safeHref`), cleaned as it says; else `ContentError` `unsafe-link`. */
export function linkTarget(href: string): string {
  const safe = safeHref(href);
  if (safe === null) {
    throw new ContentError('unsafe-link', `the link target ${JSON.stringify(href)} is not allowed: a link must be http, https, mailto or relative`);
  }
  return safe;
}

/** How deep the elements of `doc` nest (see `checkContent`). */
function deepestElement(doc: Node): number {
  let deepest = 0;
  const stack: Array<{ node: Node; depth: number }> = [{ node: doc, depth: 0 }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    deepest = Math.max(deepest, entry.depth);
    // Past the limit the answer is known; going on would only cost time.
    if (entry.depth > MAX_DEPTH) return entry.depth;
    entry.node.forEach((child) => {
      if (!child.isText) stack.push({ node: child, depth: entry.depth + 1 });
    });
  }
  return deepest;
}

/**
 * What a conversion must keep of some content: its characters that are not white space, plus its
 * leaves (images, rules, breaks). Parsers compare it before and after, to refuse rather than
 * drop what the schema found no place for.
 */
export function weightOf(doc: Node): number {
  let weight = 0;
  doc.descendants((node) => {
    if (node.isText) weight += visibleLength(node.text!);
    else if (node.isLeaf) weight += 1;
  });
  return weight;
}

/** The characters of `text` that are not white space. */
export function visibleLength(text: string): number {
  return text.replace(/\s+/g, '').length;
}
