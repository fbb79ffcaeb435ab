/**
 * `createEditor`: the collaborative editor as a widget inside any element.
 *
 * It connects to the server over the y-websocket protocol, binds ProseMirror to the document's
 * `prosemirror` XmlFragment, draws other people's carets, and shows an honest status. It works
 * from any origin the server allows; nothing is loaded from elsewhere.
 *
 * When the document is deleted it says so, and offers to create it again: that is a new session
 * on a fresh Y.Doc (see `session.ts`), so nothing of the deleted document goes back.
 */
import type { Node } from 'prosemirror-model';
import type { EditorView } from 'prosemirror-view';
import type { WebsocketProvider } from 'y-websocket';
import type * as Y from 'yjs';
import { DocumentActions } from './document-actions.js';
import { DocumentsApi, documentApiUrl } from './documents-api.js';
import { h, injectStyles } from './dom.js';
import { PresenceList } from './presence.js';
import { type Deletion, DocumentSession } from './session.js';
import type { EditorStatus } from './status.js';
import { StatusBadge } from './status-badge.js';
import styles from './styles.css';
import { EditingSurface } from './surface.js';
import { tokenPermissions } from './token.js';
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
  /**
   * Show the document's History, Export and (for admin tokens) Delete buttons. They call the
   * server's HTTP API, which answers pages of its own origin only. Default: true on a page of the
   * server's origin, false elsewhere.
   */
  readonly documentActions?: boolean | undefined;
}

/** A running editor. Everything it holds is released by `destroy()`. */
export interface CollabEditor {
  /**
   * The current status (see `EditorStatus`); changes are announced to `onStatusChange` listeners.
   * `deleted` once the document was deleted: see `recreate`.
   */
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
  /**
   * The shared document; its content lives in `doc.getXmlFragment('prosemirror')`. A new one
   * replaces it when the document is created again after its deletion.
   */
  readonly doc: Y.Doc;
  /** The y-websocket provider (connection and awareness); replaced with `doc`. */
  readonly provider: WebsocketProvider;
  /** Resolves once the browser's cached copy (if any) has been loaded. */
  whenCached(): Promise<void>;
  /**
   * Creates the document again, empty, after it was deleted (status `deleted`): a fresh `doc`
   * and `provider` connect with `create=1`, holding nothing of the deleted one. The server allows
   * it only for a token that can write; otherwise the status returns to `deleted`. Throws
   * `RangeError` unless the status is `deleted`.
   */
  recreate(): void;
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
  const permissions = tokenPermissions(options.token);
  let user = resolveUser(options.user);
  const renamable = options.user?.name === undefined;

  let destroyed = false;
  const root = h('div', { class: 'collab-editor' });
  const surface = h('div', { class: 'ce-surface' });
  const bar = h('div', { class: 'ce-bar' });
  const meta = h('div', { class: 'ce-meta' });
  root.append(bar, surface);

  const listeners = new Set<(status: EditorStatus) => void>();
  const contentListeners = new Set<() => void>();
  let session!: DocumentSession;
  let editing: EditingSurface | null = null;
  let presence: PresenceList | null = null;
  let announced: EditorStatus | null = null;
  // Set once the first session is open (they show its status).
  let badge: StatusBadge | null = null;
  let actions: DocumentActions | null = null;
  openSession(false);
  badge = new StatusBadge(session.status);
  actions = showActions(options)
    ? new DocumentActions(root, {
        api: new DocumentsApi(options.url, options.document, options.token),
        permissions,
        currentContent: (): Node | null => editing?.view?.state.doc ?? null,
        onContentChange: (listener) => {
          contentListeners.add(listener);
          return () => contentListeners.delete(listener);
        },
      })
    : null;
  if (actions !== null) bar.append(actions.element);
  bar.append(meta);
  meta.prepend(badge.element);

  /** Opens a session on the document (a fresh one with `create`), with its view and presence. */
  function openSession(create: boolean): DocumentSession {
    session = new DocumentSession({ ...options, create });
    const opened = session;
    opened.awareness.setLocalStateField('user', user);
    opened.doc.on('update', () => {
      for (const listener of contentListeners) listener();
    });
    editing = new EditingSurface(opened, {
      container: surface,
      root,
      toolbarSlot: options.toolbar === false ? null : bar,
      placeholder: options.placeholder ?? 'Start writing…',
      label: `Document ${options.document}`,
    });
    presence?.element.remove();
    presence?.destroy();
    presence = new PresenceList({
      awareness: opened.awareness,
      onRename: renamable ? (name) => editor.setUser({ name }) : null,
      // Typing goes on where it was: the focus goes back to the text.
      onRenameClosed: () => editing?.view?.focus(),
    });
    meta.append(presence.element);
    opened.onStatus(statusChanged);
    opened.onDeleted((deletion) => documentGone(opened, deletion, create));
    statusChanged(opened.status);
    return opened;
  }

  function closeSession(): void {
    editing?.destroy();
    editing = null;
    session.destroy();
  }

  function statusChanged(status: EditorStatus): void {
    if (destroyed) return;
    const previous = announced;
    announced = status;
    badge?.update(status);
    root.dataset['state'] = status.state;
    actions?.setAvailable(status.state !== 'deleted');
    if (previous !== null && status.readOnly !== previous.readOnly) editing?.readOnlyChanged();
    // A session announces only changes; a new session's first status may be the same as the last.
    const same = previous !== null && status.state === previous.state && status.label === previous.label;
    if (previous === null || (same && status.unsaved === previous.unsaved && status.readOnly === previous.readOnly)) return;
    for (const listener of listeners) listener(status);
  }

  /**
   * The session's document is gone. A page that never synced with it goes on with a fresh
   * session, silently: the document was created again (then it opens that one), or this writer
   * creates it anew. Otherwise the editor says that it was deleted.
   */
  function documentGone(gone: DocumentSession, deletion: Deletion, created: boolean): void {
    if (destroyed || gone !== session) return;
    if (!deletion.everSynced && (deletion.recreated || (permissions.write && !created))) {
      const focused = editing?.view?.hasFocus() === true;
      closeSession();
      openSession(!deletion.recreated);
      if (focused) editing?.view?.focus();
      return;
    }
    editing?.destroy();
    editing = null;
    surface.replaceChildren(deletedNotice(deletion.recreated));
    gone.markDeleted();
  }

  function deletedNotice(recreated: boolean): HTMLElement {
    const notice = h(
      'div',
      { class: 'ce-deleted', role: 'alert' },
      h('p', {}, recreated ? 'This document was deleted, and created again since.' : 'This document was deleted.'),
      h('p', { class: 'ce-muted' }, 'Its copy in this browser is gone too: nothing of it will be sent to the server.'),
    );
    if (recreated || permissions.write) {
      const again = h('button', { type: 'button', class: 'ce-primary', 'data-action': 'recreate' }, recreated ? 'Open the new document' : 'Create it again');
      again.addEventListener('click', () => editor.recreate());
      notice.append(again);
    }
    return notice;
  }

  // The margins around the text belong to it: a click there puts the caret in the text.
  surface.addEventListener('mousedown', (event) => {
    const view = editing?.view;
    if (event.target !== surface || !view) return;
    event.preventDefault();
    view.focus();
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
      return editing?.view ?? null;
    },
    get paused() {
      return editing?.paused ?? null;
    },
    get doc() {
      return session.doc;
    },
    get provider() {
      return session.provider;
    },
    whenCached: () => session.whenCached(),
    recreate() {
      if (session.status.state !== 'deleted') throw new RangeError(`the document is not deleted (its status is ${session.status.state})`);
      closeSession();
      openSession(true);
      editing?.view?.focus();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      listeners.clear();
      contentListeners.clear();
      presence?.destroy();
      actions?.destroy();
      closeSession();
      root.remove();
    },
  };
  return editor;
}

/** Whether to show the document actions: as asked, else on a page of the server's own origin. */
function showActions(options: EditorOptions): boolean {
  if (options.documentActions !== undefined) return options.documentActions;
  // An invalid URL has already been refused, by the session.
  return new URL(documentApiUrl(options.url, options.document)).origin === location.origin;
}
