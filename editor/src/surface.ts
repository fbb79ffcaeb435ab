/**
 * `EditingSurface`: ProseMirror bound to one session's document, in the editor's text area, with
 * its formatting toolbar; or, while the document holds content the editor cannot show faithfully,
 * a notice in its place (editing paused, see `content-check.ts`).
 */
import { EditorState } from 'prosemirror-state';
import { EditorView } from 'prosemirror-view';
import { yCursorPlugin, ySyncPlugin, yUndoPlugin } from 'y-prosemirror';
import type * as Y from 'yjs';
import { ContentCheck } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { buildCaret, buildSelection, drawablePresence } from './cursors.js';
import { depthLimit } from './depth-limit.js';
import { h } from './dom.js';
import { buildInputRules } from './input-rules.js';
import { buildKeymaps } from './keymap.js';
import { linkOpener } from './links.js';
import { placeholder } from './placeholder.js';
import type { DocumentSession } from './session.js';
import { writeStartingBlock } from './starting-block.js';
import { Toolbar, promptLink } from './toolbar.js';

export interface SurfaceOptions {
  /** Where the view (or the paused notice) goes; its content is replaced. */
  readonly container: HTMLElement;
  /** The element that carries `data-paused="true"` while editing is paused. */
  readonly root: HTMLElement;
  /** Where the toolbar goes (prepended), or null for none. */
  readonly toolbarSlot: HTMLElement | null;
  readonly placeholder: string;
  /** The view's accessible name. */
  readonly label: string;
}

/** How long the content must stay readable before a paused editor resumes (see `onFragmentChange`). */
const RESUME_AFTER_MS = 500;

export class EditingSurface {
  private view_: EditorView | null = null;
  private toolbar: Toolbar | null = null;
  private paused_: string | null = null;
  private readonly notice = h('div', { class: 'ce-paused', role: 'alert' });
  private readonly check: ContentCheck;
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private destroyed = false;

  constructor(
    private readonly session: DocumentSession,
    private readonly options: SurfaceOptions,
  ) {
    options.container.replaceChildren();
    this.check = new ContentCheck(session.fragment, schema);
    // Observed before any view exists: Yjs calls deep observers in the order they were added.
    session.fragment.observeDeep(this.onFragmentChange);
    const initial = this.check.problem();
    if (initial === null) this.view_ = this.mount();
    else this.pause(initial);
  }

  /** The view; null while editing is paused. */
  get view(): EditorView | null {
    return this.view_;
  }

  /** Why editing is paused, or null. */
  get paused(): string | null {
    return this.paused_;
  }

  /** Call when the session's read-only state changed. */
  readOnlyChanged(): void {
    this.view_?.setProps({});
    this.toolbar?.update();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.session.fragment.unobserveDeep(this.onFragmentChange);
    if (this.resumeTimer !== null) clearTimeout(this.resumeTimer);
    this.unmount();
    this.options.container.replaceChildren();
    delete this.options.root.dataset['paused'];
  }

  private mount(): EditorView {
    const { session } = this;
    const surface = this;
    const created: EditorView = new EditorView(this.options.container, {
      state: EditorState.create({
        schema,
        plugins: [
          ySyncPlugin(session.fragment),
          yCursorPlugin(session.awareness, { awarenessStateFilter: drawablePresence, cursorBuilder: buildCaret, selectionBuilder: buildSelection }),
          // Every element, not y-prosemirror's default of paragraphs only: undoing a change that
          // replaced an element (a paragraph made a heading, a list, a quote) keeps the new one
          // with the words others typed in it since, rather than deleting their words.
          yUndoPlugin({ protectedNodes: new Set(Object.keys(schema.nodes)) }),
          buildInputRules(schema),
          depthLimit(),
          linkOpener(),
          ...buildKeymaps((state, dispatch) => promptLink(created)(state, dispatch, created)),
          placeholder(this.options.placeholder),
        ],
      }),
      editable: () => !session.status.readOnly,
      attributes: { 'aria-label': this.options.label, spellcheck: 'true' },
      // Called with the view as `this`, also while the constructor runs (y-prosemirror's first render).
      dispatchTransaction(this: EditorView, transaction) {
        // y-prosemirror's caret plugin dispatches from a timer (after an awareness change, such as
        // the focus leaving an editor being removed from the page); by then the view may be gone.
        if (this.isDestroyed) return;
        writeStartingBlock(session.fragment, this.state, transaction);
        this.updateState(this.state.apply(transaction));
        surface.toolbar?.update();
      },
    });
    if (this.options.toolbarSlot !== null) {
      this.toolbar = new Toolbar(created);
      this.options.toolbarSlot.prepend(this.toolbar.element);
    }
    return created;
  }

  private unmount(): void {
    this.view_?.destroy();
    this.view_ = null;
    this.toolbar?.element.remove();
    this.toolbar = null;
  }

  /**
   * Takes the view away, and with it y-prosemirror's hold on the document, while the document
   * holds what it would delete, throw on or strip. Called from the fragment's observer, which runs
   * before y-prosemirror's: that one then finds its view gone and does nothing.
   */
  private pause(problem: string): void {
    this.paused_ = problem;
    this.notice.textContent = `This document holds content this editor cannot show: ${problem}. Editing is paused so that none of it is lost, and resumes once it can be shown.`;
    this.unmount();
    this.options.container.replaceChildren(this.notice);
    this.options.root.dataset['paused'] = 'true';
  }

  private resume(): void {
    this.paused_ = null;
    delete this.options.root.dataset['paused'];
    this.options.container.replaceChildren();
    this.view_ = this.mount();
  }

  private readonly onFragmentChange = (_events: unknown, transaction: Y.Transaction): void => {
    this.check.changed(transaction);
    if (this.paused_ !== null) {
      // Resumes once the content has stayed readable for a moment, so that content flickering
      // between unreadable and readable does not rebuild every editor's view at each change.
      if (this.resumeTimer !== null) clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(this.tryResume, RESUME_AFTER_MS);
      return;
    }
    const problem = this.check.problem();
    if (problem !== null) this.pause(problem);
  };

  private readonly tryResume = (): void => {
    this.resumeTimer = null;
    if (this.destroyed || this.paused_ === null) return;
    const problem = this.check.problem();
    if (problem === null) this.resume();
    else this.pause(problem);
  };
}
