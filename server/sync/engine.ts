/**
 * The sync engine: takes accepted WebSockets, ties each to its room, holds each to its message
 * rate and its token's lifetime, decodes every frame before anything acts on it, drops dead
 * peers, and stops cleanly.
 */
import type { RawData, WebSocket } from 'ws';
import type { DocumentStore } from '../../persistence/document-store.js';
import type { Logger } from '../logger.js';
import { CLOSE, Connection, type ConnectionLimits, type ConnectionTicket } from './connection.js';
import { decodeClientMessage, encodeSyncStep2, encodeUpdate, ProtocolError } from './protocol.js';
import { RoomRegistry } from './registry.js';
import type { Room } from './room.js';

export interface EngineOptions extends ConnectionLimits {
  readonly unloadGraceMs: number;
  readonly pingIntervalMs: number;
  readonly compactAfter: number;
  readonly maxRooms: number;
  readonly maxDocumentSize: number;
  readonly logger: Logger;
}

/** Frames a connection may send while its room loads; a client that floods a loading room is cut off. */
const MAX_BACKLOG = 1024;
/** setTimeout's longest delay; a token valid for longer is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SyncEngine {
  readonly rooms: RoomRegistry;
  private readonly connections = new Set<Connection>();
  private readonly pinger: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(store: DocumentStore, private readonly options: EngineOptions) {
    this.log = options.logger;
    this.rooms = new RoomRegistry(store, options);
    this.pinger = setInterval(() => this.pingAll(), options.pingIntervalMs);
    this.pinger.unref();
  }

  /** Open connections now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Takes an upgraded socket whose ticket the upgrade gate has already checked. */
  accept(socket: WebSocket, ticket: ConnectionTicket): void {
    const connection = new Connection(socket, ticket, this.options);
    this.connections.add(connection);
    let room: Room | null = null;
    const backlog: Uint8Array[] = [];
    const cancelExpiry = ticket.expiresAt === null ? null : this.closeAtExpiry(connection, ticket.expiresAt);
    this.log.debug(
      { connection: connection.id, doc: ticket.documentName, address: ticket.remoteAddress, user: ticket.identity, mode: ticket.mode },
      'connection opened',
    );

    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!connection.isOpen) return;
      if (!connection.withinRate()) {
        connection.close(CLOSE.policyViolation, `too many messages: the limit is ${this.options.maxMessageRate} per second`);
        return;
      }
      if (!isBinary) {
        connection.close(CLOSE.unsupportedData, 'text frames are not supported: send binary y-websocket messages');
        return;
      }
      const frame = toBytes(data);
      if (room) this.handle(connection, room, frame);
      else if (backlog.length === 0 && isInitialSyncStep1(frame) && this.answerFromStore(connection)) return;
      else if (backlog.length < MAX_BACKLOG) backlog.push(frame);
      else connection.close(CLOSE.policyViolation, 'too many messages while the document loads');
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('error', (error) => {
      this.log.debug({ err: error, connection: connection.id }, 'socket error');
    });
    socket.on('close', () => {
      connection.markClosed();
      cancelExpiry?.();
      ticket.releaseHold();
      this.logClose(connection);
      this.connections.delete(connection);
      if (room) {
        room.leave(connection);
        this.rooms.release(room);
      }
    });

    this.rooms.acquire(ticket.documentName).then(
      (loaded) => {
        if (loaded.failed) {
          connection.close(CLOSE.internalError, 'the document failed; reconnect to resync');
          return;
        }
        room = loaded;
        loaded.join(connection);
        ticket.releaseHold();
        if (!connection.isOpen) {
          loaded.leave(connection);
          this.rooms.release(loaded);
          return;
        }
        for (const frame of backlog.splice(0)) this.handle(connection, loaded, frame);
      },
      (error: unknown) => {
        this.log.error({ err: error, doc: ticket.documentName }, 'could not load document');
        connection.close(CLOSE.internalError, 'the document could not be loaded');
      },
    );
  }

  /** Closes every connection, then drains every pending write and folds every room. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const connection of this.connections) connection.close(CLOSE.goingAway, 'the server is shutting down');
    await this.rooms.closeAll();
  }

  private handle(connection: Connection, room: Room, frame: Uint8Array): void {
    if (!connection.isOpen || room.failed) return;
    let message;
    try {
      message = decodeClientMessage(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warn(
        { connection: connection.id, doc: room.name, code: error.code, address: connection.ticket.remoteAddress, user: connection.ticket.identity },
        `refused message: ${error.message}`,
      );
      connection.close(CLOSE.invalidPayload, `invalid message: ${error.message}`);
      return;
    }
    room.receive(connection, message);
  }

  /**
   * A client with nothing of the document (an empty state vector) joining a room that is still
   * loading gets the document as stored, as soon as it is read: every byte of it is durable, and
   * it spares the client the wait for the room to apply it, which for a long document is most of
   * the load. Updates go first and the state last, in the sync step 2 that the client waits for.
   * Returns false (the message is then queued as usual) when the room is not loading.
   */
  private answerFromStore(connection: Connection): boolean {
    return this.rooms.whenRead(connection.ticket.documentName, (stored) => {
      for (const update of stored.updates) connection.send(encodeUpdate(update));
      connection.sendState(encodeSyncStep2(stored.state ?? EMPTY_UPDATE));
    });
  }

  /** Closes the connection when its token expires; returns the function that cancels that. */
  private closeAtExpiry(connection: Connection, expiresAt: number): () => void {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = expiresAt - Date.now();
      timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(() => connection.close(CLOSE.policyViolation, 'token expired'), Math.max(0, left));
      timer.unref();
    };
    arm();
    return () => clearTimeout(timer);
  }

  /** Limits and expiry close connections for the client's reasons, not the server's: worth a line each. */
  private logClose(connection: Connection): void {
    const closed = connection.closedWith;
    if (!closed || (closed.code !== CLOSE.policyViolation && closed.code !== CLOSE.tryAgainLater && closed.code !== CLOSE.messageTooBig)) return;
    const { documentName, remoteAddress, identity } = connection.ticket;
    this.log.info({ connection: connection.id, doc: documentName, address: remoteAddress, user: identity, code: closed.code }, `closed a connection: ${closed.reason}`);
  }

  private pingAll(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        this.log.info({ connection: connection.id, doc: connection.ticket.documentName }, 'dropping a peer that did not answer a ping');
        connection.terminate();
        continue;
      }
      connection.alive = false;
      if (connection.isOpen) connection.socket.ping();
    }
  }
}

/** A Yjs update that changes nothing. */
const EMPTY_UPDATE = Uint8Array.of(0, 0);

/** Sync step 1 with an empty state vector: what a client that holds nothing sends first. */
function isInitialSyncStep1(frame: Uint8Array): boolean {
  return frame.length === 4 && frame[0] === 0 && frame[1] === 0 && frame[2] === 1 && frame[3] === 0;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
