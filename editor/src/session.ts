/**
 * One open document: its Y.Doc, the y-websocket connection to the server, the IndexedDB cache,
 * and the status derived from what the server reports.
 *
 * The connection opts in to the server's acknowledgements (`ack=1`): message 100 says which state
 * the server has durably stored, message 101 reports a failure. "Saved" comes only from those.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { IndexeddbPersistence } from 'y-indexeddb';
import type { Awareness } from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { MESSAGE_AUTH, MESSAGE_ERROR, MESSAGE_SAVED, MESSAGE_SYNC, SYNC_STEP_1, SYNC_UPDATE, decodeSaved } from '../../protocol/y-websocket.js';
import { isDocumentName } from '../../protocol/document-name.js';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { StatusTracker, type EditorStatus } from './status.js';

export interface SessionOptions {
  /** The server's base URL, `http(s)://host[:port][/prefix]`; the socket goes to `<url>/ws/<document>`. */
  readonly url: string;
  /** The document name (see `isDocumentName`). */
  readonly document: string;
  /** A token for servers that require one; sent as the `token` query parameter. */
  readonly token?: string | undefined;
  /** Keep a copy in IndexedDB so the document opens at once next time and survives a closed tab. Default true. */
  readonly offlineCache?: boolean | undefined;
}

/** Least time between two asks of why connecting fails. */
const ASK_EVERY_MS = 5000;

/** Key, in the IndexedDB cache's metadata, of the state the server was last known to hold. */
const STORED_KEY = 'server-stored-state-vector';

export class DocumentSession {
  readonly doc = new Y.Doc();
  readonly fragment: Y.XmlFragment;
  readonly provider: WebsocketProvider;
  readonly awareness: Awareness;
  private readonly tracker: StatusTracker;
  private readonly cache: IndexeddbPersistence | null;
  private readonly listeners = new Set<(status: EditorStatus) => void>();
  /** This client's presence as it last set it (see `onAwarenessChange`). */
  private ownPresence: Record<string, unknown> | null = null;
  /** Whether a write of the stored state vector is in flight, and whether another is due after it. */
  private remembering: 'idle' | 'writing' | 'writing-then-again' = 'idle';
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
    this.provider = new WebsocketProvider(socketUrl(options.url), options.document, this.doc, { params, connect: false });
    this.awareness = this.provider.awareness;
    this.installHandlers();
    // A read-only token makes a read-only editor from the start, rather than after a refused write.
    if (options.token !== undefined && tokenMode(options.token) === 'ro') this.tracker.setReadOnly(true);

    this.cache = cached ? new IndexeddbPersistence(cacheName(options.url, options.document), this.doc) : null;
    if (this.cache !== null) {
      void this.cache.get(STORED_KEY).then(
        (value: unknown) => {
          if (this.destroyed) return;
          if (value instanceof ArrayBuffer) this.tracker.serverHas(Y.decodeStateVector(new Uint8Array(value)));
          this.changed(this.tracker.storedLookedUp());
        },
        () => this.changed(this.tracker.storedLookedUp()),
      );
    }

    this.doc.on('update', this.onDocumentUpdate);
    this.awareness.on('change', this.onAwarenessChange);
    this.provider.on('sync', this.onSync);
    this.provider.on('connection-close', this.onConnectionClose);
    this.provider.on('closed', this.onClosed);
    this.provider.connect();
  }

  get status(): EditorStatus {
    return this.tracker.status;
  }

  /** Calls `listener` with every new status; returns a function that stops it. */
  onStatus(listener: (status: EditorStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A promise that resolves once the IndexedDB copy (if any) is loaded into the document. */
  whenCached(): Promise<void> {
    return this.cache === null ? Promise.resolve() : this.cache.whenSynced.then(() => undefined);
  }

  /** Closes the connection, stops caching and releases the document. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.listeners.clear();
    this.doc.off('update', this.onDocumentUpdate);
    this.awareness.off('change', this.onAwarenessChange);
    this.provider.destroy();
    void this.cache?.destroy();
    this.doc.destroy();
  }

  private installHandlers(): void {
    const handlers = this.provider.messageHandlers;
    const sync = handlers[MESSAGE_SYNC]!;
    // Peek at sync messages before y-websocket handles them: what the server sends over the socket
    // (not over the tabs' BroadcastChannel, where `fromSocket` is false) is state it holds.
    handlers[MESSAGE_SYNC] = (encoder, decoder, provider, fromSocket, type) => {
      if (fromSocket) {
        try {
          this.peekSync(decoding.clone(decoder));
        } catch {
          // Not ours to judge: y-websocket reads the message next and deals with it.
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

  private peekSync(decoder: decoding.Decoder): void {
    const syncType = decoding.readVarUint(decoder);
    const payload = decoding.readVarUint8Array(decoder);
    if (syncType === SYNC_STEP_1) {
      this.changed(this.tracker.serverHas(Y.decodeStateVector(payload)));
    } else if (syncType === SYNC_UPDATE) {
      // `to`: past the last struct of each client in the update (it need not start at clock 0).
      this.changed(this.tracker.serverHas(Y.parseUpdateMeta(payload).to));
    }
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
    this.changed(this.tracker.setSynced(synced));
  };

  private readonly onConnectionClose = (event: CloseEvent | null): void => {
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
    this.changed(this.tracker.failed(`closed-${event.code}`, event.reason || `the server closed the connection (${event.code})`));
  };

  private changed(statusChanged: boolean): void {
    if (!statusChanged || this.destroyed) return;
    const status = this.tracker.status;
    for (const listener of this.listeners) listener(status);
  }

  // The stored state vector is kept with the cached copy, so that a page opened offline knows
  // which of its cached changes never reached the server. Written at once (a page may close any
  // moment), one write at a time, the last one with the latest value.
  private remember(): void {
    if (this.cache === null) return;
    if (this.remembering !== 'idle') {
      this.remembering = 'writing-then-again';
      return;
    }
    this.remembering = 'writing';
    const encoded = encodeStateVector(this.tracker.storedStateVector);
    void this.cache
      .set(STORED_KEY, encoded.slice().buffer)
      .catch(() => undefined)
      .then(() => {
        const again = this.remembering === 'writing-then-again';
        this.remembering = 'idle';
        if (again && !this.destroyed) this.remember();
      });
  }
}

/**
 * The `mode` claim (`rw` or `ro`) of a JWT access token, read without verifying it: the server
 * verifies every token; this only lets the editor start read-only. `null` if it cannot be read.
 */
export function tokenMode(token: string): 'rw' | 'ro' | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(json);
    const mode = (claims as { mode?: unknown } | null)?.mode;
    return mode === 'rw' || mode === 'ro' ? mode : null;
  } catch {
    return null;
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

function cacheName(url: string, document: string): string {
  return `collab-editor:${socketUrl(url)}:${document}`;
}

function encodeStateVector(stateVector: ReadonlyMap<number, number>): Uint8Array {
  // The format of Y.encodeStateVector, which only takes a document.
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, stateVector.size);
  for (const [client, clock] of stateVector) {
    encoding.writeVarUint(encoder, client);
    encoding.writeVarUint(encoder, clock);
  }
  return encoding.toUint8Array(encoder);
}
