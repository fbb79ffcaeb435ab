/**
 * The document's content as HTML, both ways, with ProseMirror's DOM parser and serializer over
 * linkedom, a DOM for servers (no browser, no native code, no install script).
 *
 * Reading is strict. ProseMirror's parser reads the content of an element it has no rule for and
 * drops the element (a `<table>` becomes loose paragraphs, a `<u>` plain text), and skips scripts,
 * styles and the head entirely. So every element is checked first against the lists below, and one
 * the schema cannot hold is refused by name. What may pass without a rule of its own:
 *
 * - grouping elements that mean nothing themselves: `html`, `body`, `div`, `span`, `section`,
 *   `article`, `main`, `header`, `footer` (their attributes, such as `class`, are not kept);
 * - in the head, `meta` and an empty `title`: a page title with text is refused, since it would
 *   not become part of the document;
 * - comments, which are not content.
 *
 * White space is read as a browser shows it: runs collapse to one space.
 */
import { parseHTML } from 'linkedom';
import { DOMParser, DOMSerializer, type Node } from 'prosemirror-model';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { checkContent, linkTarget, tooDeep, visibleLength, weightOf } from './content.js';
import { ContentError } from './errors.js';

/** Elements the schema's parse rules make a node or mark of. */
const CONTENT_ELEMENTS: ReadonlySet<string> = new Set([
  ...['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'hr', 'br', 'img', 'ul', 'ol', 'li'],
  ...['em', 'i', 'strong', 'b', 'code', 'a'],
]);
/** Elements read as if they were not there, their content taking their place. */
const GROUPING_ELEMENTS: ReadonlySet<string> = new Set(['html', 'body', 'div', 'span', 'section', 'article', 'main', 'header', 'footer']);
/** What a `<head>` may hold (and the body too): nothing of it is read, and an empty `title` says nothing. */
const HEAD_ELEMENTS: ReadonlySet<string> = new Set(['meta', 'title']);
/** What a `<pre>` may hold: a code block is plain text, so formatting or links in it would be lost. */
const PRE_ELEMENTS: ReadonlySet<string> = new Set(['code', 'span']);
/** Elements that become an element of the document, each a level of its depth. */
const NESTING_ELEMENTS: ReadonlySet<string> = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'hr', 'br', 'img', 'ul', 'ol', 'li']);
/** Elements that become a leaf: each counts one in the weight (see `weightOf`). */
const LEAF_ELEMENTS: ReadonlySet<string> = new Set(['hr', 'br', 'img']);
/**
 * The deepest the HTML itself may nest, grouping and formatting elements included: ProseMirror's
 * parser recurses once per level, so this is what keeps its stack safe.
 */
export const MAX_HTML_DEPTH = 4 * MAX_DEPTH;

const domParser = DOMParser.fromSchema(schema);
const domSerializer = DOMSerializer.fromSchema(schema);

/** DOM node types (`Node.ELEMENT_NODE`, ...): there is no global `Node` on a server. */
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const COMMENT_NODE = 8;
const DOCUMENT_TYPE_NODE = 10;

/** Where a DOM node is: what may be there depends on it. */
type Place = 'body' | 'head' | 'pre';

/**
 * `source` (a whole page or a fragment) as a document of the schema. Throws `ContentError`:
 * `unsupported-content` naming the element, `unsafe-link`, `too-deep`, or `invalid-document`.
 */
export function parseHtml(source: string): Node {
  // linkedom's `parseHTML` keeps every top-level node of a fragment as a child of the document,
  // where ProseMirror does not find them all (a doctype has no next sibling): they are moved into
  // an element (a `div`, which the parser reads through).
  const { document } = parseHTML(source);
  const root = document.createElement('div');
  for (const child of [...document.childNodes]) if (child.nodeType !== DOCUMENT_TYPE_NODE) root.appendChild(child);
  const weight = scan(root);
  const doc = domParser.parse(root);
  checkContent(doc);
  if (weightOf(doc) !== weight) {
    throw new ContentError('unsupported-content', 'the HTML holds content the document has no place for (some of its text or images would be lost)');
  }
  return doc;
}

/**
 * Refuses, before ProseMirror reads anything, what it would drop and what nests too deep; lower-cases
 * attribute names (HTML ignores their case, linkedom does not), and returns the weight the result must have.
 */
function scan(root: Element): number {
  let weight = 0;
  const stack: Array<{ node: ChildNode; depth: number; nesting: number; place: Place }> = [];
  const pushChildren = (parent: ParentNode, depth: number, nesting: number, place: Place): void => {
    const children = parent.childNodes;
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i]!, depth, nesting, place });
  };
  pushChildren(root, 1, 0, 'body');
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const { node, depth, place } = visit;
    if (node.nodeType === TEXT_NODE) {
      const length = visibleLength(node.nodeValue ?? '');
      if (place === 'head' && length > 0) refuse('text in the <head>');
      weight += length;
    } else if (node.nodeType === ELEMENT_NODE) {
      const element = node as Element;
      const name = element.localName.toLowerCase();
      if (depth > MAX_HTML_DEPTH) throw new ContentError('too-deep', `the HTML elements are nested more than ${MAX_HTML_DEPTH} deep`);
      lowerCaseAttributes(element);
      checkElement(element, name, place);
      const nesting = visit.nesting + (NESTING_ELEMENTS.has(name) ? 1 : 0);
      if (nesting > MAX_DEPTH) throw tooDeep();
      if (LEAF_ELEMENTS.has(name)) weight += 1;
      pushChildren(element, depth + 1, nesting, name === 'head' ? 'head' : name === 'pre' ? 'pre' : place);
    } else if (node.nodeType !== COMMENT_NODE) {
      refuse(`a ${node.nodeName} node`);
    }
  }
  return weight;
}

function checkElement(element: Element, name: string, place: Place): void {
  if (name === 'title' && visibleLength(element.textContent ?? '') > 0) refuse('a <title> with text (a page title is not part of the document)');
  if (place === 'head') {
    if (!HEAD_ELEMENTS.has(name)) refuse(`<${name}> in the <head>`);
    return;
  }
  if (place === 'pre' && !PRE_ELEMENTS.has(name)) refuse(`<${name}> inside <pre> (a code block holds plain text)`);
  if (!CONTENT_ELEMENTS.has(name) && !GROUPING_ELEMENTS.has(name) && !HEAD_ELEMENTS.has(name) && name !== 'head') refuse(`<${name}>`);
  if (name === 'img' && !element.getAttribute('src')) refuse('an <img> without a src');
  if (name === 'a' && element.hasAttribute('href')) linkTarget(element.getAttribute('href') ?? '');
}

function refuse(what: string): never {
  throw new ContentError('unsupported-content', `the HTML holds ${what}, which the document has no place for`);
}

function lowerCaseAttributes(element: Element): void {
  for (const { name, value } of [...element.attributes]) {
    const lower = name.toLowerCase();
    if (lower === name) continue;
    element.removeAttribute(name);
    if (!element.hasAttribute(lower)) element.setAttribute(lower, value);
  }
}

/**
 * The content of `doc` as an HTML fragment (the elements of a page's body). Links go through the
 * schema's `toDOM`, which leaves out a target that is not safe.
 */
export function toHtml(doc: Node): string {
  const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
  const fragment = domSerializer.serializeFragment(doc.content, { document });
  let html = '';
  for (const child of fragment.childNodes) html += markupOf(child);
  return html;
}

/** Elements without content or end tag, among those the schema's `toDOM` makes. */
const VOID_ELEMENTS: ReadonlySet<string> = new Set(['br', 'hr', 'img']);

/**
 * `node` as HTML. Not linkedom's `innerHTML`, which leaves `&` unescaped in attribute values: an
 * href holding `&amp;` would read back as `&`. Recursive: `doc` nests at most `MAX_DEPTH` deep.
 */
function markupOf(node: ChildNode): string {
  if (node.nodeType === TEXT_NODE) return escape(node.nodeValue ?? '', /[&<>]/g);
  if (node.nodeType !== ELEMENT_NODE) return '';
  const element = node as Element;
  const name = element.localName;
  let html = `<${name}`;
  // In name order: the same output whatever order the DOM keeps them in.
  const attributes = [...element.attributes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name: attribute, value } of attributes) html += ` ${attribute}="${escape(value, /[&"]/g)}"`;
  html += '>';
  if (VOID_ELEMENTS.has(name)) return html;
  for (const child of element.childNodes) html += markupOf(child);
  return `${html}</${name}>`;
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function escape(value: string, characters: RegExp): string {
  return value.replace(characters, (character) => ENTITIES[character]!);
}
