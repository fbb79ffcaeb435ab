/**
 * What a room knows of the clients in it: a narrow interface, so that the room and its parts
 * (intake, presence, what waits) never depend on how a client is connected. `Connection` is the
 * one kind of member today; another wire protocol would be another.
 */
import type { AccessMode } from '../auth/token.js';
import type { SharedMessage } from '../websocket/message-socket.js';

/** What the upgrade gate established about a connection before it was accepted. */
export interface ConnectionTicket {
  /** The validated, decoded document name. */
  readonly documentName: string;
  /** The client asked for "saved" and "error" messages (`ack=1`). */
  readonly acks: boolean;
  /**
   * The client asked to create the document if it was deleted (`create=1`, writers only): it
   * holds nothing of the deleted one. Without it, a deleted document refuses the connection
   * (`CLOSE.deleted`), so that no old copy brings it back.
   */
  readonly create: boolean;
  /** The peer's address, for logs and per-address limits. */
  readonly remoteAddress: string;
  /** `ro`: the connection receives the document but every update it sends is refused. */
  readonly mode: AccessMode;
  /** The token's `sub`, for logs; null without one. */
  readonly identity: string | null;
  /** When the token expires (ms since the epoch); the connection is closed then. Null: never. */
  readonly expiresAt: number | null;
}

/** Where a member that asked for acknowledgements (`ack=1`) stands: kept only for those. */
export class AckState {
  /** Update-bearing messages received (sync step 2 and update). */
  received = 0;
  /** The highest `received` count acknowledged as saved, and the state vector it was saved at. */
  acked = 0;
  stateVector: Uint8Array | null = null;
  /** A "saved" message is queued for this tick. */
  queued = false;
}

/** A member of a room: what the room and its parts may ask of it. */
export interface RoomMember {
  /** Unique in the process, for logs. */
  readonly id: number;
  readonly ticket: ConnectionTicket;
  /** Null unless the client asked for "saved" and "error" messages. */
  readonly acks: AckState | null;
  /** True until the member is closed by either side. */
  readonly isOpen: boolean;
  /** Presence client ids this member has published a state for; removed when it leaves. */
  readonly awarenessClients: Set<number>;
  /** Sends one y-websocket message; a member that does not keep up is closed instead. */
  send(message: Uint8Array): void;
  /** Sends a message that other members receive too, framed once for all of them. */
  sendShared(message: SharedMessage): void;
  /** Sends the document state it asked for (sync step 2), which may be as large as the document. */
  sendState(message: Uint8Array): void;
  /** Closes the member with a close code and a reason. Idempotent. */
  close(code: number, reason: string): void;
  /**
   * Tells a member that takes acknowledgements why something failed (an "error" message with
   * `code`), then closes it with `closeCode` and the same reason.
   */
  refuse(code: string, reason: string, closeCode: number): void;
  /**
   * While the member waits for its room to reload (see `RoomFailure`): `message` is handled first
   * once it has. Ignored when it does not wait.
   */
  retryAfterReload(message: Uint8Array): void;
}
