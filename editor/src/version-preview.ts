/**
 * A version shown read-only, with what differs from the current content marked block by block
 * (see `block-diff.ts`): blocks restoring it would add, change, and, struck through where they
 * stand, blocks it would remove. Each mark carries its meaning in text too, for screen readers.
 */
import { DOMSerializer, type Node } from 'prosemirror-model';
import { EditorState, Plugin } from 'prosemirror-state';
import { Decoration, DecorationSet, EditorView } from 'prosemirror-view';
import { schema } from '../../protocol/document/schema.js';
import { type BlockChange, blockDiff } from './block-diff.js';
import { h } from './dom.js';

/** What a mark says, for each kind of change. */
const MEANING = {
  added: 'Not in the current text: restoring adds it',
  changed: 'Different in the current text: restoring changes it back',
  removed: 'Only in the current text: restoring removes it',
} as const;

export class VersionPreview {
  readonly element: HTMLElement;
  private readonly view: EditorView;
  private readonly summary: HTMLElement;
  private current: Node | null = null;
  private changes: BlockChange[] = [];

  /** Shows `version`, compared with `current` (null: nothing to compare with, nothing marked). */
  constructor(
    readonly version: Node,
    current: Node | null,
  ) {
    this.summary = h('p', { class: 'ce-diff-summary', 'aria-live': 'polite' });
    const page = h('div', { class: 'ce-preview-page' });
    this.element = h('div', { class: 'ce-preview' }, this.summary, page);
    this.view = new EditorView(page, {
      state: EditorState.create({ doc: version, plugins: [this.marks] }),
      editable: () => false,
      attributes: { 'aria-label': 'The version, read-only', 'aria-readonly': 'true', class: 'ce-preview-text' },
    });
    this.compare(current);
  }

  /** Compares the version with `current` anew (after the current content changed). */
  compare(current: Node | null): void {
    if (current !== null && this.current !== null && current.eq(this.current)) return;
    this.current = current;
    this.changes = current === null ? [] : blockDiff(this.version, current);
    this.view.setProps({});
    this.summary.textContent = summarize(current === null ? null : this.changes);
  }

  destroy(): void {
    this.view.destroy();
    this.element.remove();
  }

  private readonly marks = new Plugin({
    props: {
      decorations: (state) => {
        const decorations: Decoration[] = [];
        for (const change of this.changes) {
          if (change.kind === 'removed') {
            // No key: a new diff draws its widgets anew.
            decorations.push(Decoration.widget(change.at, () => removedBlock(change.current), { side: -1 }));
          } else {
            const attrs: Record<string, string> = { class: `ce-diff-${change.kind}`, 'data-diff': change.kind, title: MEANING[change.kind] };
            if (change.kind === 'changed') attrs['title'] = `${MEANING.changed}. Now: ${change.current.textContent || '(empty)'}`;
            decorations.push(Decoration.node(change.from, change.to, attrs));
          }
        }
        return DecorationSet.create(state.doc, decorations);
      },
    },
  });
}

/** A block of the current content that the version lacks, as it renders, struck through. */
function removedBlock(node: Node): HTMLElement {
  const wrapper = h('div', { class: 'ce-diff-removed', 'data-diff': 'removed', title: MEANING.removed, contenteditable: 'false' });
  wrapper.append(h('span', { class: 'ce-visually-hidden' }, `${MEANING.removed}: `), DOMSerializer.fromSchema(schema).serializeNode(node));
  return wrapper;
}

function summarize(changes: readonly BlockChange[] | null): string {
  if (changes === null) return 'The current text cannot be compared with it while editing is paused.';
  if (changes.length === 0) return 'Same as the current text.';
  const parts: string[] = [];
  for (const [kind, verb] of [
    ['added', 'add'],
    ['changed', 'change'],
    ['removed', 'remove'],
  ] as const) {
    const n = changes.filter((change) => change.kind === kind).length;
    if (n > 0) parts.push(`${verb} ${n} ${n === 1 ? 'block' : 'blocks'}`);
  }
  return `Compared with the current text, restoring it would ${parts.join(', ')}.`;
}
