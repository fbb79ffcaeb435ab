/**
 * A private copy of a Y.Doc, to read or edit without touching the document it was made from.
 *
 * Reading a document is not harmless in Yjs and y-prosemirror: naming a top-level type
 * (`doc.getMap(name)`) turns the bare `AbstractType` that Yjs keeps for a name nobody has named yet
 * into that kind, in place, and throws when the name was given another kind before; y-prosemirror's
 * conversion deletes the elements it cannot build. So every reading and every edit here happens
 * on a copy, and the original is only ever encoded.
 */
import * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { firstItem, keysOfType } from '../../protocol/yjs-internals.js';
import { UnreadableContentError } from './errors.js';

/** The kinds of top-level shared types: what `getMap`, `getArray`, `getText`, `getXmlFragment` make. */
export type SharedKind = 'map' | 'array' | 'text' | 'xml';

/** A top-level type of a copy, named as its kind. */
export type SharedType =
  | { readonly kind: 'map'; readonly type: Y.Map<unknown> }
  | { readonly kind: 'array'; readonly type: Y.Array<unknown> }
  | { readonly kind: 'text'; readonly type: Y.Text }
  | { readonly kind: 'xml'; readonly type: Y.XmlFragment };

export class DocCopy {
  /** The copy: the original's content, its `gc` setting, and a client id of its own. */
  readonly doc: Y.Doc;

  constructor(private readonly original: Y.Doc) {
    this.doc = new Y.Doc({ gc: original.gc });
    Y.applyUpdate(this.doc, Y.encodeStateAsUpdate(original));
  }

  /** The names of the top-level types: every one holding something, and every one the original has named. */
  names(): string[] {
    return [...new Set([...this.original.share.keys(), ...this.doc.share.keys()])];
  }

  /**
   * The kind of the top-level type `name`, or null when nothing says which it is (it holds nothing).
   * A name the original has given a kind has that kind. Otherwise its content decides: characters
   * or formatting make a text, elements an XML fragment, other values a list, keys a map. A list
   * of elements reads as a fragment, and a top-level XML element as a fragment (its attributes,
   * which only its writer can name, are not read).
   */
  kindOf(name: string): SharedKind | null {
    const named = kindOfClass(this.original.share.get(name)) ?? kindOfClass(this.doc.share.get(name));
    if (named !== null) return named;
    const type = this.doc.share.get(name);
    if (type === undefined) return null;
    let elements = false;
    let values = false;
    for (let item = firstItem(type); item !== null; item = item.right) {
      const content = item.content;
      if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return 'text';
      if (content instanceof Y.ContentType && isXml(content.type)) elements = true;
      else if (!(content instanceof Y.ContentDeleted)) values = true;
    }
    if (values) return 'array';
    if (elements) return 'xml';
    return keysOfType(type).length > 0 ? 'map' : null;
  }

  /** The top-level type `name` as its kind, or null when it has none (see `kindOf`). */
  shared(name: string): SharedType | null {
    const kind = this.kindOf(name);
    return kind === null ? null : this.typed(name, kind);
  }

  /** The top-level type `name` of the copy as `kind`; created empty if the copy has none. */
  typed(name: string, kind: SharedKind): SharedType {
    switch (kind) {
      case 'map':
        return { kind, type: this.doc.getMap<unknown>(name) };
      case 'array':
        return { kind, type: this.doc.getArray<unknown>(name) };
      case 'text':
        return { kind, type: this.doc.getText(name) };
      case 'xml':
        return { kind, type: this.doc.getXmlFragment(name) };
    }
  }

  /**
   * The update `change` makes to the copy, run in one transaction, or null when it changes
   * nothing. It holds what the transaction did (its new items and deletions), not the whole delete
   * set of the document as `Y.encodeStateAsUpdate(doc, stateVectorBefore)` would.
   */
  edit(change: () => void): Uint8Array | null {
    const updates: Uint8Array[] = [];
    const collect = (update: Uint8Array): void => {
      updates.push(update);
    };
    this.doc.on('update', collect);
    try {
      this.doc.transact(change);
    } finally {
      this.doc.off('update', collect);
    }
    if (updates.length === 0) return null;
    return updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
  }

  /**
   * The editor's fragment (`prosemirror`), empty when the document has none.
   * Throws `UnreadableContentError` when the name holds another kind of type.
   */
  contentFragment(): Y.XmlFragment {
    const kind = this.kindOf(FRAGMENT_NAME);
    if (kind !== null && kind !== 'xml') {
      throw new UnreadableContentError(`its "${FRAGMENT_NAME}" part is ${describeKind(kind)}, not the editor's XML fragment`);
    }
    return this.doc.getXmlFragment(FRAGMENT_NAME);
  }
}

/** "a shared map", ...: for messages. */
export function describeKind(kind: SharedKind): string {
  return { map: 'a shared map', array: 'a shared array', text: 'shared text', xml: 'an XML fragment' }[kind];
}

/** The kind a type's class says, or null for a bare `AbstractType` (or none). Subclasses first: an element is a fragment, XML text a text. */
function kindOfClass(type: unknown): SharedKind | null {
  if (type instanceof Y.XmlFragment) return 'xml';
  if (type instanceof Y.Text) return 'text';
  if (type instanceof Y.Array) return 'array';
  if (type instanceof Y.Map) return 'map';
  return null;
}

function isXml(type: unknown): boolean {
  return type instanceof Y.XmlElement || type instanceof Y.XmlText || type instanceof Y.XmlHook;
}
