/**
 * The document's content as ProseMirror JSON (`Node.toJSON`), read strictly.
 *
 * `schema.nodeFromJSON` ignores what it does not know: keys other than a node's own, attributes
 * the schema lacks. It also recurses once per level. So the JSON is walked first, without
 * recursion: an unknown key, node, mark or attribute is refused with where it is, and nesting past
 * `MAX_DEPTH` is refused before anything deeper is looked at.
 */
import type { MarkType, Node, NodeType } from 'prosemirror-model';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { checkContent, linkTarget, tooDeep } from './content.js';
import { ContentError } from './errors.js';

const NODE_KEYS: ReadonlySet<string> = new Set(['type', 'attrs', 'content', 'marks', 'text']);
const MARK_KEYS: ReadonlySet<string> = new Set(['type', 'attrs']);

/** Where a value is in the JSON: its parent and its key there, to say where something is wrong. */
interface Place {
  readonly parent: Place | null;
  readonly key: string;
}

/** `source` as JSON, then as in `documentFromJson`. Throws `ContentError` (`invalid-json` when it is not JSON). */
export function parseProseMirrorJson(source: string): Node {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new ContentError('invalid-json', `the body is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return documentFromJson(value);
}

/**
 * `value` as a document of the schema: a doc's JSON (`{ "type": "doc", ... }`), or the json
 * export's `{ "prosemirror": <doc JSON>, ... }`, whose other keys (the document's other shared
 * types) are not content and are not read. Throws `ContentError`: `invalid-document` saying what
 * is wrong and where, `unsafe-link`, or `too-deep`.
 */
export function documentFromJson(value: unknown): Node {
  const json = isObject(value) && !Object.hasOwn(value, 'type') && Object.hasOwn(value, 'prosemirror') ? value['prosemirror'] : value;
  checkJson(json);
  let doc: Node;
  try {
    doc = schema.nodeFromJSON(json);
  } catch (error) {
    throw new ContentError('invalid-document', `the JSON is not a document of the schema: ${error instanceof Error ? error.message : String(error)}`);
  }
  checkContent(doc);
  return doc;
}

function checkJson(root: unknown): void {
  const stack: Array<{ value: unknown; depth: number; place: Place }> = [{ value: root, depth: 0, place: { parent: null, key: '' } }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const { value, depth, place } = visit;
    if (!isObject(value)) fail(place, 'is not a node (an object with a "type")');
    const nodeType = typeOf(value, place, schema.nodes, 'node') as NodeType;
    if ((depth === 0) !== (nodeType === schema.topNodeType)) {
      fail(place, depth === 0 ? `is a "${nodeType.name}", where a "${schema.topNodeType.name}" is expected` : `is a "${nodeType.name}" inside the document`);
    }
    for (const key of Object.keys(value)) if (!NODE_KEYS.has(key)) fail(place, `has a "${key}" key, which a node does not have`);
    checkAttrs(value['attrs'], nodeType, place);
    checkAttrValues(nodeType, value['attrs'], place);
    const marks = value['marks'];
    if (marks !== undefined) {
      if (!Array.isArray(marks)) fail(place, 'has "marks" that are not a list');
      marks.forEach((mark: unknown, index) => checkMark(mark, { parent: place, key: `marks[${index}]` }));
    }
    const content = value['content'];
    if (content === undefined) continue;
    if (!Array.isArray(content)) fail(place, 'has "content" that is not a list');
    for (let index = content.length - 1; index >= 0; index--) {
      const child: unknown = content[index];
      // Text is no element: it does not count in the depth (as in `ContentCheck`).
      const childDepth = isObject(child) && child['type'] === 'text' ? depth : depth + 1;
      if (childDepth > MAX_DEPTH) throw tooDeep();
      stack.push({ value: child, depth: childDepth, place: { parent: place, key: `content[${index}]` } });
    }
  }
}

function checkMark(mark: unknown, place: Place): void {
  if (!isObject(mark)) fail(place, 'is not a mark (an object with a "type")');
  const markType = typeOf(mark, place, schema.marks, 'mark') as MarkType;
  for (const key of Object.keys(mark)) if (!MARK_KEYS.has(key)) fail(place, `has a "${key}" key, which a mark does not have`);
  checkAttrs(mark['attrs'], markType, place);
  const attrs = mark['attrs'];
  if (markType === schema.marks['link'] && isObject(attrs) && typeof attrs['href'] === 'string') linkTarget(attrs['href']);
}

function typeOf(value: Record<string, unknown>, place: Place, types: Readonly<Record<string, NodeType | MarkType>>, what: string): NodeType | MarkType {
  const name = value['type'];
  if (typeof name !== 'string') fail(place, `has no "type" naming the ${what}`);
  if (!Object.hasOwn(types, name)) fail(place, `is a "${name}" ${what}, which the document's schema does not have`);
  return types[name]!;
}

/** Refuses attributes the type does not have: `create` would drop them without a word. */
function checkAttrs(attrs: unknown, type: NodeType | MarkType, place: Place): void {
  if (attrs === undefined || attrs === null) return;
  if (!isObject(attrs)) fail(place, 'has "attrs" that are not an object');
  for (const name of Object.keys(attrs)) {
    if (!Object.hasOwn(type.spec.attrs ?? {}, name)) fail(place, `has a "${name}" attribute, which a "${type.name}" does not have`);
  }
}

/** Values the schema's own checks allow but nothing else could say: a heading is of level 1 to 6, a list starts at a whole number. */
function checkAttrValues(type: NodeType, attrs: unknown, place: Place): void {
  if (!isObject(attrs)) return;
  const level = attrs['level'];
  if (type === schema.nodes['heading'] && level !== undefined && !(Number.isInteger(level) && (level as number) >= 1 && (level as number) <= 6)) {
    fail(place, `is a heading of level ${JSON.stringify(level)}: the level is 1 to 6`);
  }
  const order = attrs['order'];
  if (type === schema.nodes['ordered_list'] && order !== undefined && !(Number.isInteger(order) && (order as number) >= 0)) {
    fail(place, `is a list starting at ${JSON.stringify(order)}: a list starts at a whole number`);
  }
}

function fail(place: Place, what: string): never {
  const keys: string[] = [];
  for (let at: Place | null = place; at !== null && at.parent !== null; at = at.parent) keys.push(at.key);
  const where = keys.length === 0 ? 'the document' : keys.reverse().join('.');
  throw new ContentError('invalid-document', `${where} ${what}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
