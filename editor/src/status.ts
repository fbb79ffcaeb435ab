/**
 * The editor's save and connection status, derived from what the server has said, never from
 * a timer.
 *
 * `StatusTracker` is pure bookkeeping: the session feeds it connection events and every state
 * vector the server has vouched for, and it answers with an `EditorStatus`.
 */

/** What the editor shows, in order of what matters most to the user. */
export type StatusState =
  /** Opening the first connection; nothing has failed yet. */
  | 'connecting'
  /** Connected and in sync; nothing written here is waiting to be stored. */
  | 'live'
  /** Connected; some changes in this document are not yet confirmed stored by the server. */
  | 'saving'
  /** Connected; the server has confirmed (message 100) that it durably stored every change here. */
  | 'saved'
  /** Not connected (after a connection failed or dropped); editing goes on locally. */
  | 'offline'
  /** The server reported a failure (message 101) or closed the connection for good. */
  | 'error'
  /**
   * The document was deleted: the editor no longer connects, and this browser's copy of it is
   * gone. Nothing of it can be saved; it can be created again, empty.
   */
  | 'deleted';

export interface EditorStatus {
  readonly state: StatusState;
  /** Whether the socket is open and the first sync with the server is done. */
  readonly connected: boolean;
  /** Whether this copy holds changes the server has not confirmed stored ("edits waiting" offline). */
  readonly unsaved: boolean;
  /** Whether the server refused writes on this connection (a read-only token). */
  readonly readOnly: boolean;
  /** The last problem the server reported, until everything is saved again. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** A short human description, e.g. "Offline · edits waiting". */
  readonly label: string;
}

/** A Yjs state vector: client id to the number of that client's structs. */
export type StateVector = ReadonlyMap<number, number>;

/** Whether `stored` has at least every clock of `local`. */
export function covers(stored: StateVector, local: StateVector): boolean {
  for (const [client, clock] of local) if ((stored.get(client) ?? 0) < clock) return false;
  return true;
}

/**
 * Whether `held` has none of what `known` has: every client with a clock in `known` is missing
 * from `held`. False when `known` is empty. A server that lost a moment of writes (a crash before
 * they were stored) still holds the clients it stored before; one that lost them all deleted the
 * document they were in.
 */
export function holdsNoneOf(held: StateVector, known: StateVector): boolean {
  let any = false;
  for (const [client, clock] of known) {
    if (clock === 0) continue;
    if ((held.get(client) ?? 0) > 0) return false;
    any = true;
  }
  return any;
}

/** `into` raised to the clocks of `from` where those are higher; returns whether anything changed. */
export function mergeStateVector(into: Map<number, number>, from: StateVector): boolean {
  let changed = false;
  for (const [client, clock] of from) {
    if ((into.get(client) ?? 0) < clock) {
      into.set(client, clock);
      changed = true;
    }
  }
  return changed;
}

/**
 * Tracks status. `localStateVector` returns the document's current state vector; the tracker
 * compares it with what the server is known to have stored whenever either may have changed.
 */
export class StatusTracker {
  private readonly stored = new Map<number, number>();
  private synced = false;
  private everSynced = false;
  private failedAttempts = 0;
  private ackReceived = false;
  private readOnly = false;
  private deleted = false;
  private error: { code: string; message: string } | null = null;
  private current: EditorStatus;

  /**
   * `storedKnown` false: what the server holds is being looked up (in the browser's cache); until
   * `storedLookedUp()` or the first sync, nothing is called unsaved, rather than everything.
   */
  constructor(
    private readonly localStateVector: () => StateVector,
    private storedKnown = true,
  ) {
    this.current = this.derive();
  }

  get status(): EditorStatus {
    return this.current;
  }

  /** The server's stored state as far as this client knows it (to remember across page loads). */
  get storedStateVector(): StateVector {
    return this.stored;
  }

  /** The remembered stored state (if any) has been passed to `serverHas`. */
  storedLookedUp(): boolean {
    this.storedKnown = true;
    return this.update();
  }

  /** The connection finished its first sync (`true`) or was lost (`false`). */
  setSynced(synced: boolean): boolean {
    if (synced) this.everSynced = this.storedKnown = true;
    // Why the last connection closed or was refused no longer matters once a new one works.
    if (synced && (this.error?.code.startsWith('closed-') || this.error?.code.startsWith('refused-'))) this.error = null;
    this.synced = synced;
    return this.update();
  }

  /** A connection attempt failed or an open connection closed. */
  connectionFailed(): boolean {
    this.failedAttempts++;
    this.synced = false;
    return this.update();
  }

  /**
   * The server holds at least `stateVector`: from its sync step 1, from a live update it broadcast
   * (the server broadcasts only what it stored), or from an earlier session's record.
   */
  serverHas(stateVector: StateVector): boolean {
    mergeStateVector(this.stored, stateVector);
    return this.update();
  }

  /** Message 100: the server durably stored this connection's updates; it holds `stateVector`. */
  saved(stateVector: StateVector): boolean {
    mergeStateVector(this.stored, stateVector);
    this.ackReceived = true;
    if (covers(this.stored, this.localStateVector())) this.error = null;
    return this.update();
  }

  /**
   * Message 101, the server closing the connection with a reason (code `closed-<close code>`), or
   * refusing it (`refused-<error>`). Shown until everything is saved again, or for a closed or
   * refused connection, until a new one syncs.
   */
  failed(code: string, message: string): boolean {
    this.error = { code, message };
    return this.update();
  }

  /** The server refused a write on this connection. */
  setReadOnly(readOnly: boolean): boolean {
    this.readOnly = readOnly;
    return this.update();
  }

  /** The document was deleted: the status is `deleted` from now on. */
  setDeleted(): boolean {
    this.deleted = true;
    return this.update();
  }

  /** Re-derives the status (call after the document changed); returns whether it changed. */
  update(): boolean {
    const next = this.derive();
    const previous = this.current;
    this.current = next;
    return next.state !== previous.state || next.unsaved !== previous.unsaved || next.readOnly !== previous.readOnly || next.label !== previous.label;
  }

  private derive(): EditorStatus {
    // Once deleted, nothing is waiting to be saved: there is nowhere left to save it.
    const unsaved = !this.deleted && this.storedKnown && !covers(this.stored, this.localStateVector());
    let state: StatusState;
    if (this.deleted) state = 'deleted';
    else if (this.error !== null) state = 'error';
    else if (!this.synced) state = this.everSynced || this.failedAttempts > 0 ? 'offline' : 'connecting';
    else if (unsaved) state = 'saving';
    else state = this.ackReceived ? 'saved' : 'live';
    return {
      state,
      connected: this.synced && !this.deleted,
      unsaved,
      readOnly: this.readOnly,
      error: this.error,
      label: describe(state, unsaved, this.error),
    };
  }
}

function describe(state: StatusState, unsaved: boolean, error: { message: string } | null): string {
  switch (state) {
    case 'connecting':
      return 'Connecting…';
    case 'live':
      return 'Live';
    case 'saving':
      return 'Saving…';
    case 'saved':
      return 'Saved';
    case 'offline':
      return unsaved ? 'Offline · edits waiting' : 'Offline';
    case 'error':
      return `${unsaved ? 'Not saved' : 'Error'}: ${error?.message ?? 'unknown error'}`;
    case 'deleted':
      return 'Deleted';
  }
}
