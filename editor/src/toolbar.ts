/**
 * The formatting toolbar: a block type menu, mark and block buttons, undo and redo. Buttons show
 * whether their format is active at the selection and are disabled where they cannot apply.
 */
import type { Command, EditorState } from 'prosemirror-state';
import type { EditorView } from 'prosemirror-view';
import {
  activeLink,
  ancestorActive,
  blockActive,
  inList,
  insertHorizontalRule,
  markActive,
  redo,
  setLink,
  setParagraph,
  toggleBlockquote,
  toggleBold,
  toggleBulletList,
  toggleCode,
  toggleCodeBlock,
  toggleHeading,
  toggleItalic,
  toggleOrderedList,
  undo,
} from './commands.js';
import { h, icon } from './dom.js';
import { schema } from '../../protocol/document/schema.js';

interface Button {
  readonly name: string;
  readonly title: string;
  readonly content: () => Node;
  readonly command: (view: EditorView) => Command;
  readonly active?: (state: EditorState) => boolean;
}

const ICONS = {
  code: '<path d="m8 7-5 5 5 5"/><path d="m16 7 5 5-5 5"/>',
  link: '<path d="M10 14a4.5 4.5 0 0 0 6.4 0l3.2-3.2a4.5 4.5 0 0 0-6.4-6.4L12 5.6"/><path d="M14 10a4.5 4.5 0 0 0-6.4 0l-3.2 3.2a4.5 4.5 0 0 0 6.4 6.4l1.2-1.2"/>',
  bulletList:
    '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="4.5" cy="6" r="1" fill="currentColor"/><circle cx="4.5" cy="12" r="1" fill="currentColor"/><circle cx="4.5" cy="18" r="1" fill="currentColor"/>',
  orderedList:
    '<path d="M10 6h10M10 12h10M10 18h10"/><path d="M4 4.5 5.5 4v5M4 10.5c.4-.6 1-.9 1.6-.7.8.3.9 1.2.3 1.8L4 14h2.5M4 16.5h2.3l-1.2 1.4c.9 0 1.4.5 1.3 1.2-.1.8-1.3 1.2-2.4.6" stroke-width="1.4"/>',
  quote: '<path d="M4 11h4v6H4zM4 11c0-3 1-5 4-6"/><path d="M14 11h4v6h-4zM14 11c0-3 1-5 4-6"/>',
  codeBlock: '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="m10 10-2 2 2 2M14 10l2 2-2 2"/>',
  rule: '<path d="M3 12h18"/><path d="M7 7h.01M12 7h.01M17 7h.01M7 17h.01M12 17h.01M17 17h.01"/>',
  undo: '<path d="M9 14 4 9l5-5"/><path d="M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/>',
  redo: '<path d="m15 14 5-5-5-5"/><path d="M20 9H9.5a5.5 5.5 0 0 0 0 11H13"/>',
};

const text =
  (label: string, tag: 'b' | 'i' = 'b') =>
  (): Node =>
    h(tag, {}, label);
const svg = (body: string) => (): Node => icon(body);
const always = (command: Command) => (): Command => command;

/** Asks for a link address (with `window.prompt`) and links the selection, or unlinks it. */
export function promptLink(view: EditorView): Command {
  return (state, dispatch) => {
    const current = activeLink(state);
    if (state.selection.empty && current === null) return false;
    if (!dispatch) return true;
    const answer = window.prompt(current === null ? 'Link address' : 'Link address (empty to remove the link)', current ?? 'https://');
    if (answer === null) return false;
    const done = setLink(answer)(view.state, view.dispatch);
    if (!done) window.alert('Only http, https, mailto and relative links (like /d/other) are allowed.');
    return done;
  };
}

const BUTTONS: readonly (Button | 'separator')[] = [
  { name: 'bold', title: 'Bold (Ctrl+B)', content: text('B'), command: always(toggleBold), active: (s) => markActive(s, schema.marks['strong']!) },
  { name: 'italic', title: 'Italic (Ctrl+I)', content: text('I', 'i'), command: always(toggleItalic), active: (s) => markActive(s, schema.marks['em']!) },
  { name: 'code', title: 'Inline code (Ctrl+`)', content: svg(ICONS.code), command: always(toggleCode), active: (s) => markActive(s, schema.marks['code']!) },
  { name: 'link', title: 'Link (Ctrl+K)', content: svg(ICONS.link), command: promptLink, active: (s) => activeLink(s) !== null },
  'separator',
  {
    name: 'bullet-list',
    title: 'Bullet list (- )',
    content: svg(ICONS.bulletList),
    command: always(toggleBulletList),
    active: (s) => inList(s, schema.nodes['bullet_list']!),
  },
  {
    name: 'ordered-list',
    title: 'Numbered list (1. )',
    content: svg(ICONS.orderedList),
    command: always(toggleOrderedList),
    active: (s) => inList(s, schema.nodes['ordered_list']!),
  },
  {
    name: 'blockquote',
    title: 'Quote (> )',
    content: svg(ICONS.quote),
    command: always(toggleBlockquote),
    active: (s) => ancestorActive(s, schema.nodes['blockquote']!),
  },
  {
    name: 'code-block',
    title: 'Code block (```)',
    content: svg(ICONS.codeBlock),
    command: always(toggleCodeBlock),
    active: (s) => blockActive(s, schema.nodes['code_block']!),
  },
  { name: 'horizontal-rule', title: 'Divider (---)', content: svg(ICONS.rule), command: always(insertHorizontalRule) },
  'separator',
  { name: 'undo', title: 'Undo your last change (Ctrl+Z)', content: svg(ICONS.undo), command: always(undo) },
  { name: 'redo', title: 'Redo (Ctrl+Shift+Z)', content: svg(ICONS.redo), command: always(redo) },
];

const BLOCK_TYPES: readonly { value: string; label: string; command: Command; active: (s: EditorState) => boolean }[] = [
  { value: 'paragraph', label: 'Text', command: setParagraph, active: (s) => blockActive(s, schema.nodes['paragraph']!) },
  ...[1, 2, 3].map((level) => ({
    value: `h${level}`,
    label: `Heading ${level}`,
    command: toggleHeading(level),
    active: (s: EditorState) => blockActive(s, schema.nodes['heading']!, { level }),
  })),
];

/** The toolbar element for `view`; call `update` after every state change. */
export class Toolbar {
  readonly element: HTMLElement;
  private readonly buttons: { button: HTMLButtonElement; spec: Button }[] = [];
  private readonly blockSelect: HTMLSelectElement;

  constructor(private readonly view: EditorView) {
    this.blockSelect = h(
      'select',
      { class: 'ce-block-type', 'aria-label': 'Text style', title: 'Text style' },
      ...BLOCK_TYPES.map((type) => h('option', { value: type.value }, type.label)),
      h('option', { value: 'other', hidden: true, disabled: true }, 'Other'),
    );
    this.blockSelect.addEventListener('change', () => {
      const type = BLOCK_TYPES.find((candidate) => candidate.value === this.blockSelect.value);
      if (type) type.command(this.view.state, this.view.dispatch, this.view);
      this.view.focus();
    });
    this.element = h('div', { class: 'ce-toolbar', role: 'toolbar', 'aria-label': 'Formatting' }, this.blockSelect);
    for (const spec of BUTTONS) {
      if (spec === 'separator') {
        this.element.append(h('span', { class: 'ce-separator', role: 'separator' }));
        continue;
      }
      const button = h(
        'button',
        { type: 'button', class: 'ce-button', 'data-command': spec.name, title: spec.title, 'aria-label': spec.title },
        spec.content(),
      );
      // Keep the editor's selection: act on mousedown and never take focus from the text.
      button.addEventListener('mousedown', (event) => event.preventDefault());
      button.addEventListener('click', () => {
        spec.command(this.view)(this.view.state, this.view.dispatch, this.view);
        this.view.focus();
      });
      this.buttons.push({ button, spec });
      this.element.append(button);
    }
    this.update();
  }

  update(): void {
    const { state } = this.view;
    const editable = this.view.editable;
    for (const { button, spec } of this.buttons) {
      const enabled = editable && spec.command(this.view)(state, undefined, this.view);
      button.disabled = !enabled;
      if (spec.active) button.setAttribute('aria-pressed', String(spec.active(state)));
    }
    const block = BLOCK_TYPES.find((type) => type.active(state));
    this.blockSelect.value = block?.value ?? 'other';
    this.blockSelect.disabled = !editable;
  }
}
