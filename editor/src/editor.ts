/**
 * `createEditor`: the collaborative editor as a widget inside any element.
 *
 * It connects to the server over the y-websocket protocol, binds ProseMirror to the document's
 * `prosemirror` XmlFragment, draws other people's carets, and shows an honest status. It works
 * from any origin the server allows; nothing is loaded from elsewhere.
 */
import { EditorState } from 'prosemirror-state';
import { EditorView } from 'prosemirror-view';
import { yCursorPlugin, ySyncPlugin, yUndoPlugin } from 'y-prosemirror';
import type { WebsocketProvider } from 'y-websocket';
import type * as Y from 'yjs';
import { ContentCheck } from '../../protocol/document/content-check.js';
import { buildCaret, buildSelection, drawablePresence } from './cursors.js';
import { depthLimit } from './depth-limit.js';
import { h, injectStyles } from './dom.js';
import { buildInputRules } from './input-rules.js';
import { buildKeymaps } from './keymap.js';
import { linkOpener } from './links.js';
import { placeholder } from './placeholder.js';
import { PresenceList } from './presence.js';
import { schema } from '../../protocol/document/schema.js';
import { DocumentSession } from './session.js';
import { writeStartingBlock } from './starting-block.js';
import type { EditorStatus } from './status.js';
import { StatusBadge } from './status-badge.js';
import styles from './styles.css';
import { Toolbar, promptLink } from './toolbar.js';
import { resolveUser, storeUser, type User } from './user.js';

export interface EditorOptions {
  /** The server's base URL, e.g. `https://docs.example.com`. */
  readonly url: string;
  /** The document to open; created on first write if it does not exist. */
  readonly document: string;
  /** A token, when the server requires one (see the server's `--auth-secret`). */
  readonly token?: string | undefined;
  /**
   * The name and color others see. Missing fields come from what this browser remembered, else
   * are generated. When `user.name` is given the user cannot rename themselves in the widget.
   */
  readonly user?: Partial<User> | undefined;
  /** Keep a copy of the document in IndexedDB to open at once and work offline. Default true. */
  readonly offlineCache?: boolean | undefined;
  /** Add the editor's stylesheet to the page (once). Default true; turn off to style it yourself. */
  readonly injectStyles?: boolean | undefined;
  /** Show the formatting toolbar. Default true. */
  readonly toolbar?: boolean | undefined;
  /** Text shown in an empty document. Default "Start writing…". */
  readonly placeholder?: string | undefined;
}

/** A running editor. Everything it holds is released by `destroy()`. */
export interface CollabEditor {
  /** The current status (see `EditorStatus`); changes are announced to `onStatusChange` listeners. */
  readonly status: EditorStatus;
  /** Calls `listener` on every status change (not with the current one); returns an unsubscribe function. */
  onStatusChange(listener: (status: EditorStatus) => void): () => void;
  /** Who this editor edits as. */
  readonly user: User;
  /** Changes the name and/or color shown to others, and remembers it in this browser. */
  setUser(user: Partial<User>): void;
  /**
   * The ProseMirror view; `view.dom` is the `.ProseMirror` element. Null while editing is paused
   * (see `paused`); a new view replaces it when editing resumes.
   */
  readonly view: EditorView | null;
  /**
   * Why editing is paused, or null. The editor pauses, showing a notice in place of the text,
   * while the document holds content it cannot show faithfully (an element or formatting its
   * schema does not know, written by another app or a newer version; a hook, an embed, nesting
   * past 200 deep): editing it would delete or strip that content for everyone. It resumes once
   * the content can be shown.
   */
  readonly paused: string | null;
  /** The shared document; its content lives in `doc.getXmlFragment('prosemirror')`. */
  readonly doc: Y.Doc;
  /** The y-websocket provider (connection and awareness). */
  readonly provider: WebsocketProvider;
  /** Resolves once the browser's cached copy (if any) has been loaded. */
  whenCached(): Promise<void>;
  /** Disconnects, removes the editor from the element and releases everything. Idempotent. */
  destroy(): void;
}

const STYLE_ID = 'collab-editor-styles';
/** How long the content must stay readable before a paused editor resumes (see `onFragmentChange`). */
const RESUME_AFTER_MS = 500;

/**
 * Mounts an editor inside `element` (which it fills; its previous content is replaced).
 * Throws `RangeError` for an invalid document name or server URL.
 */
export function createEditor(element: HTMLElement, options: EditorOptions): CollabEditor {
  if (options.injectStyles !== false) injectStyles(STYLE_ID, styles);
  const session = new DocumentSession(options);
  let user = resolveUser(options.user);
  const renamable = options.user?.name === undefined;
  session.awareness.setLocalStateField('user', user);

  let destroyed = false;
  const root = h('div', { class: 'collab-editor' });
  const surface = h('div', { class: 'ce-surface' });
  const bar = h('div', { class: 'ce-bar' });
  root.append(bar, surface);

  let toolbar: Toolbar | null = null;
  let view: EditorView | null = null;
  /** Why editing is paused (see `content-check.ts`), or null. */
  let paused: string | null = null;
  const notice = h('div', { class: 'ce-paused', role: 'alert' });

  const mount = (): EditorView => {
    const created: EditorView = new EditorView(surface, {
      state: EditorState.create({
        schema,
        plugins: [
          ySyncPlugin(session.fragment),
          yCursorPlugin(session.awareness, { awarenessStateFilter: drawablePresence, cursorBuilder: buildCaret, selectionBuilder: buildSelection }),
          // Every element, not y-prosemirror's default of paragraphs only: undoing a change that
          // replaced an element (a paragraph made a heading, a list, a quote) deleted the new one
          // with the words others had typed in it since. Kept, it holds just their words.
          yUndoPlugin({ protectedNodes: new Set(Object.keys(schema.nodes)) }),
          buildInputRules(schema),
          depthLimit(),
          linkOpener(),
          ...buildKeymaps((state, dispatch) => promptLink(created)(state, dispatch, created)),
          placeholder(options.placeholder ?? 'Start writing…'),
        ],
      }),
      editable: () => !session.status.readOnly,
      attributes: { 'aria-label': `Document ${options.document}`, spellcheck: 'true' },
      // Called with the view as `this`, also while the constructor runs (y-prosemirror's first render).
      dispatchTransaction(this: EditorView, transaction) {
        // y-prosemirror's caret plugin dispatches from a timer (after an awareness change, such as
        // the focus leaving an editor being removed from the page); by then the view may be gone.
        if (this.isDestroyed) return;
        writeStartingBlock(session.fragment, this.state, transaction);
        this.updateState(this.state.apply(transaction));
        toolbar?.update();
      },
    });
    if (options.toolbar !== false) {
      toolbar = new Toolbar(created);
      bar.prepend(toolbar.element);
    }
    return created;
  };

  /**
   * Takes the view away, and with it y-prosemirror's hold on the document, while the document
   * holds what it would delete, throw on or strip. Called from the fragment's observer, which runs
   * before y-prosemirror's: that one then finds its view gone and does nothing.
   */
  const pause = (problem: string): void => {
    paused = problem;
    notice.textContent = `This document holds content this editor cannot show: ${problem}. Editing is paused so that none of it is lost, and resumes once it can be shown.`;
    if (view !== null) {
      view.destroy();
      view = null;
      toolbar?.element.remove();
      toolbar = null;
    }
    surface.replaceChildren(notice);
    root.dataset['paused'] = 'true';
  };

  const resume = (): void => {
    paused = null;
    delete root.dataset['paused'];
    surface.replaceChildren();
    view = mount();
  };

  const check = new ContentCheck(session.fragment, schema);
  let resumeTimer: ReturnType<typeof setTimeout> | null = null;
  // Observed before any view exists: Yjs calls deep observers in the order they were added.
  const onFragmentChange = (_events: unknown, transaction: Y.Transaction): void => {
    check.changed(transaction);
    if (paused !== null) {
      // Resumes once the content has stayed readable for a moment: a writer adding and removing
      // bad content ten times a second made every editor rebuild its view ten times a second.
      if (resumeTimer !== null) clearTimeout(resumeTimer);
      resumeTimer = setTimeout(tryResume, RESUME_AFTER_MS);
      return;
    }
    const problem = check.problem();
    if (problem !== null) pause(problem);
  };
  const tryResume = (): void => {
    resumeTimer = null;
    if (destroyed || paused === null) return;
    const problem = check.problem();
    if (problem === null) resume();
    else pause(problem);
  };
  session.fragment.observeDeep(onFragmentChange);
  const initial = check.problem();
  if (initial === null) view = mount();
  else pause(initial);

  // The margins around the text belong to it: a click there puts the caret in the text.
  surface.addEventListener('mousedown', (event) => {
    if (event.target !== surface || view === null) return;
    event.preventDefault();
    view.focus();
  });

  const badge = new StatusBadge(session.status);
  const presence = new PresenceList({
    awareness: session.awareness,
    onRename: renamable ? (name) => editor.setUser({ name }) : null,
    // Typing goes on where it was: the focus goes back to the text.
    onRenameClosed: () => view?.focus(),
  });
  bar.append(h('div', { class: 'ce-meta' }, badge.element, presence.element));
  root.dataset['state'] = session.status.state;

  const listeners = new Set<(status: EditorStatus) => void>();
  let readOnly = session.status.readOnly;
  session.onStatus((status) => {
    badge.update(status);
    root.dataset['state'] = status.state;
    if (status.readOnly !== readOnly) {
      readOnly = status.readOnly;
      view?.setProps({});
      toolbar?.update();
    }
    for (const listener of listeners) listener(status);
  });

  element.replaceChildren(root);

  const editor: CollabEditor = {
    get status() {
      return session.status;
    },
    onStatusChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get user() {
      return user;
    },
    setUser(change) {
      const next = resolveUser({ ...user, ...change });
      user = next;
      storeUser(next);
      session.awareness.setLocalStateField('user', next);
    },
    get view() {
      return view;
    },
    get paused() {
      return paused;
    },
    doc: session.doc,
    provider: session.provider,
    whenCached: () => session.whenCached(),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      listeners.clear();
      presence.destroy();
      session.fragment.unobserveDeep(onFragmentChange);
      if (resumeTimer !== null) clearTimeout(resumeTimer);
      view?.destroy();
      view = null;
      session.destroy();
      root.remove();
    },
  };
  return editor;
}
