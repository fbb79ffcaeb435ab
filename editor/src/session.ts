/**
 * One open document: its Y.Doc, the y-websocket connection to the server, the IndexedDB cache,
 * and the status derived from what the server reports.
 *
 * The connection opts in to the server's acknowledgements (`ack=1`): message 100 says which state
 * the server has durably stored, message 101 reports a failure. "Saved" comes only from those.
 *
 * A session ends for good when it learns that the document was deleted (see `Deletion`): it
 * disconnects and drops its cached copy, and whatever it holds never reaches the server again. A
 * document that lives on is then another session's, on a fresh Y.Doc.
 */
import * as decoding from 'lib0/decoding';
import type { Awareness } from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { MESSAGE_AUTH, MESSAGE_ERROR, MESSAGE_SAVED, MESSAGE_SYNC, SYNC_STEP_1, SYNC_UPDATE, decodeSaved } from '../../protocol/y-websocket.js';
import { isDocumentName } from '../../protocol/document-name.js';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { OfflineCache } from './offline-cache.js';
import { STARTING_BLOCK_ORIGIN } from './starting-block.js';
import { holdsNoneOf, StatusTracker, type EditorStatus } from './status.js';
import { tokenMode } from './token.js';

export interface SessionOptions {
  /** The server's base URL, `http(s)://host[:port][/prefix]`; the socket goes to `<url>/ws/<document>`. */
  readonly url: string;
  /** The document name (see `isDocumentName`). */
  readonly document: string;
  /** A token for servers that require one; sent as the `token` query parameter. */
  readonly token?: string | undefined;
  /** Keep a copy in IndexedDB so the document opens at once next time and survives a closed tab. Default true. */
  readonly offlineCache?: boolean | undefined;
  /**
   * Create the document if it was deleted (`create=1`, which the server honours for a token that
   * can write), until the first sync. If the document is empty then, the session writes an empty
   * paragraph: a created document exists once something of it is stored. Such a session takes
   * nothing from other tabs, which may hold the deleted document. Default false.
   */
  readonly create?: boolean | undefined;
}

/**
 * How a session learned that the document it holds is gone: the server closed the connection
 * with 4410 (`recreated` false), or the server holds none of what it was known to hold of this
 * copy, so the document was deleted and created again since (`recreated` true).
 */
export interface Deletion {
  readonly recreated: boolean;
  /** Whether the session had synced with the server before (a page open during the deletion). */
  readonly everSynced: boolean;
}

/** The close code of a deleted document (`CLOSE.deleted` on the server). */
export const CLOSE_DELETED = 4410;

/** Least time between two asks of why connecting fails. */
const ASK_EVERY_MS = 5000;

export class DocumentSession {
  readonly doc = new Y.Doc();
  readonly fragment: Y.XmlFragment;
  readonly provider: WebsocketProvider;
  readonly awareness: Awareness;
  private readonly tracker: StatusTracker;
  private readonly cache: OfflineCache | null;
  private readonly listeners = new Set<(status: EditorStatus) => void>();
  private readonly deletionListeners = new Set<(deletion: Deletion) => void>();
  /** Set once the document is known gone (see `Deletion`). */
  private deletion: Deletion | null = null;
  private everSynced = false;
  /** This client's presence as it last set it (see `onAwarenessChange`). */
  private ownPresence: Record<string, unknown> | null = null;
  private destroyed = false;
  /** Whether the server is being asked why connecting failed, and when it last was (see `askWhyRefused`). */
  private asking = false;
  private lastAsked = 0;

  constructor(options: SessionOptions) {
    if (!isDocumentName(options.document)) {
      throw new RangeError(`invalid document name ${JSON.stringify(options.document)}: use letters, digits and - _ . ~ : @, with / between parts`);
    }
    this.fragment = this.doc.getXmlFragment(FRAGMENT_NAME);
    const cached = options.offlineCache !== false;
    this.tracker = new StatusTracker(() => Y.decodeStateVector(Y.encodeStateVector(this.doc)), !cached);
    const params: Record<string, string> = { ack: '1' };
    if (options.token) params['token'] = options.token;
    if (options.create === true) params['create'] = '1';
    this.provider = new WebsocketProvider(socketUrl(options.url), options.document, this.doc, { params, connect: false, disableBc: options.create === true });
    this.awareness = this.provider.awareness;
    this.installHandlers();
    // A read-only token makes a read-only editor from the start, rather than after a refused write.
    if (options.token !== undefined && tokenMode(options.token) === 'ro') this.tracker.setReadOnly(true);

    this.doc.on('update', this.onDocumentUpdate);
    this.awareness.on('change', this.onAwarenessChange);
    this.provider.on('sync', this.onSync);
    this.provider.on('connection-close', this.onConnectionClose);
    this.provider.on('closed', this.onClosed);

    this.cache = cached ? new OfflineCache(cacheName(options.url, options.document), this.doc) : null;
    if (this.cache === null) {
      this.provider.connect();
      return;
    }
    // Connects once the cached copy and what the server was known to hold are loaded: the server's
    // first message is then checked against all of it (see `peekSync`), before anything of the
    // copy is sent. Without a working cache, at once.
    void this.cache.load().then((stored) => {
      if (this.destroyed || this.deletion !== null) return;
      if (stored !== null) this.tracker.serverHas(stored);
      this.changed(this.tracker.storedLookedUp());
      this.provider.connect();
    });
  }

  get status(): EditorStatus {
    return this.tracker.status;
  }

  /** Calls `listener` with every new status; returns a function that stops it. */
  onStatus(listener: (status: EditorStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` once the session learns that its document is gone, after it disconnected and
   * dropped the cached copy. The status stays as it was: `markDeleted` says "deleted", unless the
   * caller goes on with a new session instead.
   */
  onDeleted(listener: (deletion: Deletion) => void): () => void {
    this.deletionListeners.add(listener);
    return () => this.deletionListeners.delete(listener);
  }

  /** Sets the status to `deleted`. */
  markDeleted(): void {
    this.changed(this.tracker.setDeleted());
  }

  /** A promise that resolves once the IndexedDB copy (if any) is loaded into the document. */
  whenCached(): Promise<void> {
    return this.cache === null ? Promise.resolve() : this.cache.whenLoaded;
  }

  /** Closes the connection, stops caching and releases the document. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.listeners.clear();
    this.deletionListeners.clear();
    this.doc.off('update', this.onDocumentUpdate);
    this.awareness.off('change', this.onAwarenessChange);
    this.provider.destroy();
    void this.cache?.close();
    this.doc.destroy();
  }

  private installHandlers(): void {
    const handlers = this.provider.messageHandlers;
    const sync = handlers[MESSAGE_SYNC]!;
    // Peek at sync messages before y-websocket handles them: what the server sends over the socket
    // (not over the tabs' BroadcastChannel, where `fromSocket` is false) is state it holds.
    handlers[MESSAGE_SYNC] = (encoder, decoder, provider, fromSocket, type) => {
      if (this.deletion !== null) return;
      if (fromSocket) {
        let lost = false;
        try {
          lost = this.peekSync(decoding.clone(decoder));
        } catch {
          // Not ours to judge: y-websocket reads the message next and deals with it.
        }
        if (lost) {
          // Not handed on: y-websocket would answer with everything the server lacks.
          void this.gone(true);
          return;
        }
      }
      sync(encoder, decoder, provider, fromSocket, type);
    };
    handlers[MESSAGE_SAVED] = (_encoder, decoder) => {
      const { stateVector } = decodeSaved(decoder);
      this.changed(this.tracker.saved(stateVector));
      this.remember();
    };
    handlers[MESSAGE_ERROR] = (_encoder, decoder) => {
      const code = decoding.readVarString(decoder);
      const message = decoding.readVarString(decoder);
      this.changed(this.tracker.failed(code, message));
    };
    handlers[MESSAGE_AUTH] = (_encoder, decoder) => {
      // y-protocols' auth message: subtype 0 is "permission denied", the only one there is.
      if (decoding.readVarUint(decoder) === 0) {
        decoding.readVarString(decoder);
        this.changed(this.tracker.setReadOnly(true));
      }
    };
  }

  /**
   * Reads what the server holds from its sync messages. Returns true if its state vector has
   * nothing of what it was known to hold (see `holdsNoneOf`): the document was deleted and created
   * again since, and this copy must not be sent into the new one.
   */
  private peekSync(decoder: decoding.Decoder): boolean {
    const syncType = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    if (syncType === SYNC_STEP_1) {
      const held = Y.decodeStateVector(payload);
      if (holdsNoneOf(held, this.tracker.storedStateVector)) return true;
      this.changed(this.tracker.serverHas(held));
    } else if (syncType === SYNC_UPDATE) {
      // `to`: past the last struct of each client in the update (it need not start at clock 0).
      this.changed(this.tracker.serverHas(Y.parseUpdateMeta(payload).to));
    }
    return false;
  }

  private readonly onDocumentUpdate = (): void => {
    this.changed(this.tracker.update());
  };

  /**
   * Keeps this client's presence its own. y-protocols applies a remote state for this client's id
   * like any other, so whoever the server lets publish it (anyone from the same address on an open
   * server, anyone behind the same proxy) would rename this user or move their cursor, and this
   * editor would then publish the forgery as its own. It publishes its own state again instead, at
   * a later clock, which replaces the forgery everywhere.
   */
  private readonly onAwarenessChange = ({ added, updated }: { added: number[]; updated: number[] }, origin: unknown): void => {
    const own = this.doc.clientID;
    if (origin === 'local') {
      this.ownPresence = this.awareness.getLocalState();
      return;
    }
    if (this.ownPresence !== null && (added.includes(own) || updated.includes(own))) this.awareness.setLocalState(this.ownPresence);
  };

  private readonly onSync = (synced: boolean): void => {
    if (this.deletion !== null) return;
    if (synced && !this.everSynced) {
      this.everSynced = true;
      if (this.provider.params['create'] !== undefined) {
        // Reconnecting later must not create it again if it is deleted meanwhile.
        delete this.provider.params['create'];
        if (this.fragment.length === 0) this.doc.transact(() => this.fragment.insert(0, [new Y.XmlElement('paragraph')]), STARTING_BLOCK_ORIGIN);
      }
      this.remember();
    }
    this.changed(this.tracker.setSynced(synced));
  };

  private readonly onConnectionClose = (event: CloseEvent | null): void => {
    // 4410: see `onClosed`; and once gone, the session's own disconnection means nothing.
    if (event?.code === CLOSE_DELETED || this.deletion !== null) return;
    let changed = this.tracker.connectionFailed();
    // A reason from the server (token expired, too many messages, ...) is worth showing; a server
    // shutting down (1001) is just offline; a failed attempt has no reason (browsers hide refused
    // upgrades), so the server is asked for it.
    if (event !== null && event.reason !== '' && event.code !== 1001) {
      changed = this.tracker.failed(`closed-${event.code}`, event.reason) || changed;
    } else if (event?.code !== 1001) {
      this.askWhyRefused();
    }
    this.changed(changed);
  };

  /**
   * Asks the server why connecting failed: the same request as plain HTTP gets the refusal the
   * upgrade got, or 426 if the server would take it (see `server/app.ts`). Without this, a token
   * that does not verify or a page origin the server does not allow looked like a server that is
   * down, "Offline · edits waiting", for good. At most one ask in flight, and one per
   * `ASK_EVERY_MS` while attempts go on failing.
   */
  private askWhyRefused(): void {
    const now = Date.now();
    if (this.asking || now - this.lastAsked < ASK_EVERY_MS) return;
    this.asking = true;
    this.lastAsked = now;
    fetch(this.provider.url.replace(/^ws/, 'http'), { cache: 'no-store', credentials: 'omit' })
      .then(async (response) => {
        if (response.status === 426 || this.destroyed) return;
        const body = (await response.json()) as { error?: unknown; message?: unknown };
        if (typeof body.error === 'string' && typeof body.message === 'string') {
          this.changed(this.tracker.failed(`refused-${body.error}`, `the server refused the connection: ${body.message}`));
        }
      })
      // Unreachable, or an answer that is not a refusal: offline, as the status already says.
      .catch(() => undefined)
      .finally(() => {
        this.asking = false;
      });
  }

  private readonly onClosed = (event: { code: number; reason: string }): void => {
    if (event.code === CLOSE_DELETED) {
      void this.gone(false);
      return;
    }
    this.changed(this.tracker.failed(`closed-${event.code}`, event.reason || `the server closed the connection (${event.code})`));
  };

  /**
   * The document is gone: stops connecting (and talking to other tabs), drops the cached copy, then
   * tells the `onDeleted` listeners. Nothing of this copy is sent anywhere from here on.
   */
  private async gone(recreated: boolean): Promise<void> {
    if (this.deletion !== null || this.destroyed) return;
    this.deletion = { recreated, everSynced: this.everSynced };
    this.provider.disconnect();
    await this.cache?.drop();
    if (this.destroyed) return;
    for (const listener of this.deletionListeners) listener(this.deletion);
  }

  private changed(statusChanged: boolean): void {
    if (!statusChanged || this.destroyed) return;
    const status = this.tracker.status;
    for (const listener of this.listeners) listener(status);
  }

  /** Records with the cached copy what the server holds now (see `OfflineCache`). */
  private remember(): void {
    if (this.deletion === null) this.cache?.remember(this.tracker.storedStateVector);
  }
}

/** `http(s)://host/prefix` to `ws(s)://host/prefix/ws`. Throws `RangeError` for anything but an http(s) or ws(s) URL. */
export function socketUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`server url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:' && parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new RangeError(`server url ${JSON.stringify(url)} is not http(s) or ws(s)`);
  }
  const base = `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '').replace(/\/ws$/, '');
  return `${base.replace(/^http/, 'ws')}/ws`;
}

/** The name of the IndexedDB database that caches `document` of the server at `url`. */
export function cacheName(url: string, document: string): string {
  return `collab-editor:${socketUrl(url)}:${document}`;
}
