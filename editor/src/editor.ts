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
import { buildCaret } from './cursors.js';
import { h, injectStyles } from './dom.js';
import { buildInputRules } from './input-rules.js';
import { buildKeymaps } from './keymap.js';
import { placeholder } from './placeholder.js';
import { PresenceList } from './presence.js';
import { schema } from './schema.js';
import { DocumentSession } from './session.js';
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
  /** The ProseMirror view; `view.dom` is the `.ProseMirror` element. */
  readonly view: EditorView;
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

  const root = h('div', { class: 'collab-editor' });
  const surface = h('div', { class: 'ce-surface' });
  const bar = h('div', { class: 'ce-bar' });
  root.append(bar, surface);

  let toolbar: Toolbar | null = null;
  const view: EditorView = new EditorView(surface, {
    state: EditorState.create({
      schema,
      plugins: [
        ySyncPlugin(session.fragment),
        yCursorPlugin(session.awareness, { cursorBuilder: buildCaret }),
        yUndoPlugin(),
        buildInputRules(schema),
        ...buildKeymaps((state, dispatch) => promptLink(view)(state, dispatch, view)),
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
      this.updateState(this.state.apply(transaction));
      toolbar?.update();
    },
  });
  // The margins around the text belong to it: a click there puts the caret in the text.
  surface.addEventListener('mousedown', (event) => {
    if (event.target !== surface) return;
    event.preventDefault();
    view.focus();
  });
  if (options.toolbar !== false) {
    toolbar = new Toolbar(view);
    bar.append(toolbar.element);
  }

  const badge = new StatusBadge(session.status);
  const presence = new PresenceList({
    awareness: session.awareness,
    onRename: renamable ? (name) => editor.setUser({ name }) : null,
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
      view.setProps({});
      toolbar?.update();
    }
    for (const listener of listeners) listener(status);
  });

  element.replaceChildren(root);
  let destroyed = false;

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
    view,
    doc: session.doc,
    provider: session.provider,
    whenCached: () => session.whenCached(),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      listeners.clear();
      presence.destroy();
      view.destroy();
      session.destroy();
      root.remove();
    },
  };
  return editor;
}
