/**
 * Whether the editor can show the shared document faithfully, checked before y-prosemirror sees it.
 *
 * y-prosemirror turns the document's XmlFragment into ProseMirror nodes under the schema, and is
 * not gentle with what does not fit:
 *
 * - an element or text run the schema cannot build (an unknown node or mark, a bad attribute
 *   value, content where the schema allows none) is deleted from the shared document, for
 *   everyone, by merely opening it: content written by another app or a newer version is lost;
 * - text, a hook or an embed where it expects an element, and nesting deep enough to overflow the
 *   stack, make it throw on every change: the editor stops showing others' edits while still
 *   saying "saved", and the user's next keystroke writes the stale copy back over them;
 * - attributes the schema does not know are dropped when the user edits inside their node.
 *
 * So the editor builds the same nodes itself first, without touching the document, and pauses
 * (shows a notice and edits nothing) while anything would be lost. Nodes built for elements that
 * did not change are reused, as y-prosemirror reuses its own, so a keystroke costs a walk of the
 * top level, not of the document.
 */
import { Fragment, Slice, type Mark, type Node, type Schema } from 'prosemirror-model';
import { Transform } from 'prosemirror-transform';
import * as Y from 'yjs';
import { firstItem } from '../yjs-internals.js';

/**
 * Deepest nesting of elements shown; honest documents stay far below it (a quote in a list in a
 * quote…), and the editor makes nothing deeper (`depth-limit.ts`). About 1,400 levels overflowed
 * ProseMirror's rendering in Chromium, and 2,000 y-prosemirror's.
 */
export const MAX_DEPTH = 200;

/** Why the document cannot be shown: a sentence for the user. */
class Unreadable extends Error {}

export class ContentCheck {
  /** Nodes built for elements unchanged since (see `changed`); null for one y-prosemirror drops. */
  private built = new WeakMap<object, Node | null>();

  constructor(
    private readonly fragment: Y.XmlFragment,
    private readonly schema: Schema,
  ) {}

  /** Forgets what a transaction changed, so that the next `problem` builds it again. */
  changed(transaction: Y.Transaction): void {
    for (const type of transaction.changed.keys()) this.built.delete(type);
    for (const type of transaction.changedParentTypes.keys()) this.built.delete(type);
    Y.iterateDeletedStructs(transaction, transaction.deleteSet, (struct) => {
      if (struct instanceof Y.Item && struct.content instanceof Y.ContentType) this.built.delete(struct.content.type);
    });
  }

  /** Why the document cannot be shown as it is, or null if it can. */
  problem(): string | null {
    try {
      const children: Node[] = [];
      for (const child of this.fragment.toArray()) {
        const node = this.element(child, 1);
        if (node !== null) children.push(node);
      }
      // y-prosemirror puts the top level in with a replace, which wraps or moves what does not fit
      // there (and an empty document becomes one empty paragraph): fine, as long as it drops nothing.
      if (children.length > 0 && !this.schema.topNodeType.validContent(Fragment.from(children)) && !keepsEverything(this.schema, children)) {
        throw new Unreadable('its top level holds what the editor would have to drop');
      }
      return null;
    } catch (error) {
      // Whatever else throws (a stack overflow, a bug here) pauses the editor too: it is safe.
      this.built = new WeakMap();
      return error instanceof Unreadable ? error.message : `checking it failed (${messageOf(error)})`;
    }
  }

  private element(type: unknown, depth: number): Node | null {
    if (!(type instanceof Y.XmlElement)) throw new Unreadable(`it holds ${describe(type)} where the editor expects a block or inline element`);
    const known = this.built.get(type);
    if (known !== undefined) return known;
    if (depth > MAX_DEPTH) throw new Unreadable(`its elements are nested more than ${MAX_DEPTH} deep`);
    const nodeType = Object.hasOwn(this.schema.nodes, type.nodeName) ? this.schema.nodes[type.nodeName] : undefined;
    if (nodeType === undefined || nodeType === this.schema.topNodeType)
      throw new Unreadable(`it holds a "${type.nodeName}" element, which this editor does not know`);
    const attrs = type.getAttributes() as Record<string, unknown>;
    // Every key y-prosemirror could read, inherited ones too (an attribute named `__proto__` sets
    // the object's prototype), and only the schema's own attributes (`constructor` is "in" any object).
    // y-prosemirror never stores `ychange` (it marks changes when rendering a snapshot), so one is foreign.
    for (const name of keysOf(attrs)) {
      if (!Object.hasOwn(nodeType.spec.attrs ?? {}, name))
        throw new Unreadable(`its "${type.nodeName}" element has a "${name}" attribute, which this editor does not know`);
    }
    const children: Node[] = [];
    for (const child of type.toArray()) {
      if (child instanceof Y.XmlText) {
        children.push(...this.text(child));
      } else {
        const node = this.element(child, depth + 1);
        if (node !== null) children.push(node);
      }
    }
    let node: Node | null;
    try {
      node = this.schema.node(nodeType, attrs, children);
    } catch (error) {
      // Concurrent edits can leave a structure the schema does not allow (two people each lifting
      // an item out of the same list leave it empty), which y-prosemirror repairs by deleting it.
      // That is no loss when it holds nothing: no text, no image, rule or break.
      if (holdsContent(type, this.schema)) {
        throw new Unreadable(`its "${type.nodeName}" element does not fit the editor's schema (${messageOf(error)})`);
      }
      node = null;
    }
    this.built.set(type, node);
    return node;
  }

  /** The text nodes y-prosemirror makes of a text run: one per differently formatted piece. */
  private text(text: Y.XmlText): Node[] {
    // Yjs leaves "ychange" formatting out of the delta (it is for rendering snapshots), and the
    // next edit of the text drops it: it is found among the text's own items instead.
    for (let item = firstItem(text); item !== null; item = item.right) {
      if (!item.deleted && item.content instanceof Y.ContentFormat && item.content.key === 'ychange' && item.content.value !== null) {
        throw new Unreadable('its text is formatted with "ychange", which this editor does not keep');
      }
    }
    const nodes: Node[] = [];
    for (const piece of text.toDelta() as Array<{ insert: unknown; attributes?: Record<string, unknown> }>) {
      if (typeof piece.insert !== 'string') throw new Unreadable(`its text holds ${describe(piece.insert)}, which the editor cannot show`);
      const marks: Mark[] = [];
      const attributes = piece.attributes ?? {};
      for (const key of keysOf(attributes)) {
        const value = attributes[key];
        // y-prosemirror stores marks that may overlap themselves under `<name>--<hash>`.
        const name = /^(.*)--[a-zA-Z0-9+/=]{8}$/.exec(key)?.[1] ?? key;
        const markType = Object.hasOwn(this.schema.marks, name) ? this.schema.marks[name] : undefined;
        if (markType === undefined) throw new Unreadable(`its text is formatted with "${name}", which this editor does not know`);
        const markAttrs = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
        for (const attr of keysOf(markAttrs)) {
          if (!Object.hasOwn(markType.spec.attrs ?? {}, attr))
            throw new Unreadable(`its "${name}" formatting has a "${attr}" attribute, which this editor does not know`);
        }
        let mark: Mark;
        try {
          mark = this.schema.mark(markType, value as Record<string, unknown> | null);
        } catch (error) {
          throw new Unreadable(`its "${name}" formatting does not fit the editor's schema (${messageOf(error)})`);
        }
        // Two links on the same text, say: ProseMirror keeps one of them on the next edit.
        if (marks.some((other) => other.type.excludes(mark.type) || mark.type.excludes(other.type))) {
          throw new Unreadable(`its text carries "${name}" formatting together with formatting that excludes it`);
        }
        marks.push(mark);
      }
      nodes.push(this.schema.text(piece.insert, marks));
    }
    return nodes;
  }
}

/** Whether an element holds anything of value: text, or a leaf (an image, a rule, a break). */
function holdsContent(element: Y.XmlElement, schema: Schema): boolean {
  for (const child of element.toArray()) {
    if (
      child instanceof Y.XmlText
        ? child.length > 0
        : child instanceof Y.XmlElement && (schema.nodes[child.nodeName]?.isLeaf !== false || holdsContent(child, schema))
    )
      return true;
  }
  return false;
}

/** Whether replacing an empty document's content with `children`, as y-prosemirror does, keeps all their text and leaves. */
function keepsEverything(schema: Schema, children: readonly Node[]): boolean {
  const empty = schema.topNodeType.createAndFill()!;
  const result = new Transform(empty).replace(0, empty.content.size, new Slice(Fragment.from(children), 0, 0)).doc;
  return weight(result.content) === weight(Fragment.from(children));
}

/** Characters of text plus leaves. */
function weight(fragment: Fragment): number {
  let total = 0;
  fragment.descendants((node) => {
    if (node.isText) total += node.text!.length;
    else if (node.isLeaf) total += 1;
  });
  return total;
}

/** The keys a `for…in` loop visits (y-prosemirror reads attributes that way): own and inherited enumerable ones. */
function keysOf(object: object): string[] {
  const keys: string[] = [];
  for (const key in object) keys.push(key);
  return keys;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (value instanceof Y.XmlText) return 'text';
  if (value instanceof Y.XmlHook) return 'a hook';
  // Not `constructor.name`: the bundle minifies class names.
  if (value instanceof Y.Map) return 'a shared map';
  if (value instanceof Y.Array) return 'a shared array';
  if (value instanceof Y.Text) return 'shared text';
  if (value instanceof Y.AbstractType) return 'a shared type';
  return typeof value === 'string' ? 'a string' : `a ${typeof value === 'object' ? 'JSON value' : typeof value}`;
}
