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
import { Fragment, type Mark, type Node, type Schema } from 'prosemirror-model';
import * as Y from 'yjs';

/** Deepest nesting of elements shown; honest documents stay far below it (a quote in a list in a quote…). */
export const MAX_DEPTH = 100;

/** Why the document cannot be shown: a sentence for the user. */
class Unreadable extends Error {}

export class ContentCheck {
  /** Nodes built for elements unchanged since (see `changed`). */
  private built = new WeakMap<object, Node>();

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
      const children = this.fragment.toArray().map((child) => this.element(child, 1));
      const top = this.schema.topNodeType;
      // An empty document is shown as one empty paragraph; nothing is rearranged.
      if (children.length > 0 && !top.validContent(Fragment.from(children))) throw new Unreadable('its top level holds what the editor would have to rearrange');
      return null;
    } catch (error) {
      // Whatever else throws (a stack overflow, a bug here) pauses the editor too: it is safe.
      this.built = new WeakMap();
      return error instanceof Unreadable ? error.message : `checking it failed (${error instanceof Error ? error.message : String(error)})`;
    }
  }

  private element(type: unknown, depth: number): Node {
    if (!(type instanceof Y.XmlElement)) throw new Unreadable(`it holds ${describe(type)} where the editor expects a block or inline element`);
    const known = this.built.get(type);
    if (known !== undefined) return known;
    if (depth > MAX_DEPTH) throw new Unreadable(`its elements are nested more than ${MAX_DEPTH} deep`);
    const nodeType = this.schema.nodes[type.nodeName];
    if (nodeType === undefined || nodeType === this.schema.topNodeType) throw new Unreadable(`it holds a "${type.nodeName}" element, which this editor does not know`);
    const attrs = type.getAttributes() as Record<string, unknown>;
    for (const name of Object.keys(attrs)) {
      if (name !== 'ychange' && !(name in (nodeType.spec.attrs ?? {}))) throw new Unreadable(`its "${type.nodeName}" element has a "${name}" attribute, which this editor does not know`);
    }
    const children: Node[] = [];
    for (const child of type.toArray()) {
      if (child instanceof Y.XmlText) children.push(...this.text(child));
      else children.push(this.element(child, depth + 1));
    }
    let node: Node;
    try {
      node = this.schema.node(nodeType, attrs, children);
    } catch (error) {
      throw new Unreadable(`its "${type.nodeName}" element does not fit the editor's schema (${error instanceof Error ? error.message : String(error)})`);
    }
    this.built.set(type, node);
    return node;
  }

  /** The text nodes y-prosemirror makes of a text run: one per differently formatted piece. */
  private text(text: Y.XmlText): Node[] {
    const nodes: Node[] = [];
    for (const piece of text.toDelta() as Array<{ insert: unknown; attributes?: Record<string, unknown> }>) {
      if (typeof piece.insert !== 'string') throw new Unreadable(`its text holds ${describe(piece.insert)}, which the editor cannot show`);
      const marks: Mark[] = [];
      for (const [key, value] of Object.entries(piece.attributes ?? {})) {
        if (key === 'ychange') continue;
        // y-prosemirror stores marks that may overlap themselves under `<name>--<hash>`.
        const name = /^(.*)--[a-zA-Z0-9+/=]{8}$/.exec(key)?.[1] ?? key;
        const markType = this.schema.marks[name];
        if (markType === undefined) throw new Unreadable(`its text is formatted with "${name}", which this editor does not know`);
        const markAttrs = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
        for (const attr of Object.keys(markAttrs)) {
          if (!(attr in (markType.spec.attrs ?? {}))) throw new Unreadable(`its "${name}" formatting has a "${attr}" attribute, which this editor does not know`);
        }
        try {
          marks.push(this.schema.mark(markType, value as Record<string, unknown> | null));
        } catch (error) {
          throw new Unreadable(`its "${name}" formatting does not fit the editor's schema (${error instanceof Error ? error.message : String(error)})`);
        }
      }
      nodes.push(this.schema.text(piece.insert, marks));
    }
    return nodes;
  }
}

function describe(value: unknown): string {
  if (value instanceof Y.XmlText) return 'text';
  if (value instanceof Y.XmlHook) return 'a hook';
  if (value instanceof Y.AbstractType) return `a shared ${value.constructor.name}`;
  return typeof value === 'string' ? 'a string' : `a ${typeof value === 'object' ? 'JSON value' : typeof value}`;
}
