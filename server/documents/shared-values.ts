/**
 * The values held in shared types, read three ways: as JSON for an export, as a fingerprint to
 * tell whether two are the same, and as a copy to put into another document.
 *
 * A value is a shared type (map, array, text, XML element, fragment or text, hook) or what Yjs
 * stores as is: JSON values, `Uint8Array`s, subdocuments, `undefined`, bigints. Shared types nest,
 * so each reading counts its depth and refuses past `MAX_DEPTH`, rather than overflow the stack.
 */
import * as Y from 'yjs';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { UnreadableContentError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A Yjs text delta: pieces of text, or embeds, with their formatting. */
type Delta = Array<{ insert?: unknown; attributes?: Record<string, unknown> }>;

/**
 * `value` as JSON: a map (or XML hook) as an object, an array as an array, a text as its string
 * (formatting and embeds left out), an XML element, fragment or text as its XML string, bytes as a base64 string, a subdocument as
 * `{ "subdocument": guid }`, a bigint as its decimal string, `undefined` as null.
 */
export function jsonOf(value: unknown, depth = 0): JsonValue {
  if (depth > MAX_DEPTH) throw new UnreadableContentError(`its shared values are nested more than ${MAX_DEPTH} deep`);
  if (value instanceof Y.XmlFragment || value instanceof Y.XmlText) return value.toString();
  if (value instanceof Y.Text) return value.toString();
  if (value instanceof Y.Array) return value.toArray().map((item) => jsonOf(item, depth + 1));
  if (value instanceof Y.Map) return objectOf(value.entries(), depth);
  return plainJsonOf(value, depth, jsonOf);
}

/**
 * A string equal for two values exactly when they hold the same: the same kinds of shared types,
 * keys in any order, texts with their formatting and embeds, elements with their attributes.
 */
export function fingerprint(value: unknown): string {
  return JSON.stringify(tagged(value, 0));
}

/** `value` as JSON in which every object names what it stands for, so that no two kinds of value read alike. */
function tagged(value: unknown, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new UnreadableContentError(`its shared values are nested more than ${MAX_DEPTH} deep`);
  const inner = (child: unknown): JsonValue => tagged(child, depth + 1);
  if (value instanceof Y.XmlElement) {
    return { element: value.nodeName, attributes: objectOf(Object.entries(value.getAttributes()), depth, tagged), children: value.toArray().map(inner) };
  }
  if (value instanceof Y.XmlFragment) return { fragment: value.toArray().map(inner) };
  if (value instanceof Y.XmlHook) return { hook: value.hookName, entries: objectOf(value.entries(), depth, tagged) };
  if (value instanceof Y.XmlText) return { xmlText: deltaOf(value, depth, tagged) };
  if (value instanceof Y.Text) return { text: deltaOf(value, depth, tagged) };
  if (value instanceof Y.Array) return { array: value.toArray().map(inner) };
  if (value instanceof Y.Map) return { map: objectOf(value.entries(), depth, tagged) };
  if (value === null || value === undefined || typeof value === 'string' || typeof value === 'boolean') return value ?? null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : { number: String(value) };
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (value instanceof Uint8Array) return { bytes: plainJsonOf(value, depth, tagged) };
  if (value instanceof Y.Doc) return { subdocument: value.guid };
  if (Array.isArray(value)) return { list: value.map(inner) };
  if (typeof value === 'object') return { object: objectOf(Object.entries(value), depth, tagged) };
  return null;
}

/**
 * A copy of `value` that can be put into another document: shared types are built anew (Yjs's own
 * `clone` shares what texts embed and what hooks hold), bytes are copied, and a subdocument becomes
 * a new reference to the same guid (its content lives in its own document).
 */
export function copyOf(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new UnreadableContentError(`its shared values are nested more than ${MAX_DEPTH} deep`);
  const inner = (child: unknown): unknown => copyOf(child, depth + 1);
  if (value instanceof Y.XmlElement) {
    const element = new Y.XmlElement(value.nodeName);
    for (const [key, attribute] of Object.entries(value.getAttributes())) element.setAttribute(key, inner(attribute) as string);
    element.insert(0, value.toArray().map(inner) as Array<Y.XmlElement | Y.XmlText>);
    return element;
  }
  if (value instanceof Y.XmlFragment) {
    const fragment = new Y.XmlFragment();
    fragment.insert(0, value.toArray().map(inner) as Array<Y.XmlElement | Y.XmlText>);
    return fragment;
  }
  if (value instanceof Y.XmlHook) {
    const hook = new Y.XmlHook(value.hookName);
    for (const [key, entry] of value.entries()) hook.set(key, inner(entry) as string);
    return hook;
  }
  if (value instanceof Y.Text) {
    const text = value instanceof Y.XmlText ? new Y.XmlText() : new Y.Text();
    text.applyDelta(copiedDelta(value, inner));
    return text;
  }
  if (value instanceof Y.Array) {
    const array = new Y.Array<unknown>();
    array.insert(0, value.toArray().map(inner));
    return array;
  }
  if (value instanceof Y.Map) return new Y.Map([...value.entries()].map(([key, entry]) => [key, inner(entry)] as [string, unknown]));
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof Y.Doc)
    return new Y.Doc({
      guid: value.guid,
      collectionid: value.collectionid,
      gc: value.gc,
      meta: value.meta,
      autoLoad: value.autoLoad,
      shouldLoad: value.shouldLoad,
    });
  return value; // a JSON value: Yjs encodes it, nothing holds on to it
}

/** The delta of a text with its embeds copied (see `copyOf`). */
export function copiedDelta(text: Y.Text, copy: (value: unknown) => unknown): Delta {
  return (text.toDelta() as Delta).map((piece) => ({ ...piece, insert: typeof piece.insert === 'string' ? piece.insert : copy(piece.insert) }));
}

function deltaOf(text: Y.Text, depth: number, read: (value: unknown, depth: number) => JsonValue): JsonValue {
  return (text.toDelta() as Delta).map((piece) => ({
    insert: read(piece.insert, depth + 1),
    attributes: objectOf(Object.entries(piece.attributes ?? {}), depth, read),
  }));
}

/** A JSON object of `entries`, keys sorted; keys such as `__proto__` are set as plain keys. */
function objectOf(
  entries: Iterable<[string, unknown]>,
  depth: number,
  read: (value: unknown, depth: number) => JsonValue = jsonOf,
): { [key: string]: JsonValue } {
  const object: { [key: string]: JsonValue } = {};
  for (const [key, entry] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    Object.defineProperty(object, key, { value: read(entry, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return object;
}

/** What Yjs stores as is (`ContentAny`, `ContentBinary`, `ContentDoc`), as JSON. */
function plainJsonOf(value: unknown, depth: number, read: (value: unknown, depth: number) => JsonValue): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof Y.Doc) return { subdocument: value.guid };
  if (Array.isArray(value)) return value.map((item) => read(item, depth + 1));
  if (typeof value === 'object') return objectOf(Object.entries(value), depth, read);
  return null; // functions and symbols: Yjs cannot store them
}
