/**
 * The sync engine: takes accepted WebSockets, ties each to its room, holds each to its message
 * rate and its token's lifetime, decodes every frame before anything acts on it, drops dead
 * peers, and stops cleanly.
 */
import type { DocumentStore } from '../../persistence/document-store.js';
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import type { MessageListener, MessageSocket } from '../websocket/message-socket.js';
import { Connection, type ConnectionEvents, type ConnectionLimits } from './connection.js';
import type { DocumentBus } from './bus.js';
import type { DocumentEvents } from './document-events.js';
import type { ConnectionTicket } from './member.js';
import { moveSurvivors } from './reload.js';
import { ProtocolError } from '../../protocol/errors.js';
import { type ClientMessage, decodeClientMessage, encodeSyncStep2, encodeUpdate, isInitialSyncStep1 } from '../../protocol/y-websocket.js';
import { UpdateScanner } from '../../protocol/yjs-internals.js';
import { DocumentHistory, type HistoryOptions } from '../history/history.js';
import { RoomRegistry } from './registry.js';
import type { RequestMember } from './request-member.js';
import type { Room } from './room.js';
import { SyncCounters } from './sync-counters.js';

/** The engine's options: see `ServerConfig` for each. */
export interface EngineOptions extends ConnectionLimits, HistoryOptions {
  readonly unloadGraceMs: number;
  readonly pingIntervalMs: number;
  readonly compactAfter: number;
  readonly maxRooms: number;
  readonly maxDocumentSize: number;
  readonly maxUpdateMs: number;
  readonly updateTimePerAddress: number;
  readonly logger: Logger;
  /** Told of documents created, edited and deleted here (webhooks); none by default. */
  readonly events?: DocumentEvents;
}

/** Who takes part in an engine's rooms: connections, and writes over HTTP for the length of a request. */
export type EngineMember = Connection | RequestMember;

/** How many times `withRoom` loads a document that failed as it loaded before it gives up. */
const LOAD_ATTEMPTS = 3;

/** The sync engine of one server (see the top of this file). */
export class SyncEngine {
  readonly rooms: RoomRegistry<EngineMember>;
  readonly history: DocumentHistory;
  /** What the engine's rooms received and broadcast, counted in place (see `SyncCounters`). */
  readonly counters = new SyncCounters();
  private readonly connections = new Set<Connection>();
  private readonly pinger: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly events: ConnectionEvents;
  /** Decodes every update the engine receives (see `UpdateScanner`). */
  private readonly scanner = new UpdateScanner();

  constructor(
    store: DocumentStore,
    bus: DocumentBus,
    private readonly options: EngineOptions,
  ) {
    this.log = options.logger;
    const history = (this.history = new DocumentHistory(store, options));
    const events = options.events;
    this.rooms = new RoomRegistry<EngineMember>(store, {
      ...options,
      bus,
      counters: this.counters,
      onEdited: (room, authors, created) => {
        history.edited(room, authors);
        events?.edited(room.name, created);
      },
      ...(events === undefined ? {} : { onDeleted: (room: Room<EngineMember>) => events.deleted(room.name) }),
      beforeUnload: (room) => history.unloading(room),
      onReload: (survivors, reloaded) => this.moveOnReload(survivors.filter(isConnection), reloaded),
    });
    this.events = this.connectionEvents();
    this.pinger = setInterval(() => this.pingAll(), options.pingIntervalMs);
    this.pinger.unref();
  }

  /** Open connections now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Takes a socket whose upgrade the gate has checked and completed, with its ticket and the
   * function that gives back the gate's hold on its room. Returns the connection, for the socket to
   * report to once started.
   */
  accept(socket: MessageSocket, ticket: ConnectionTicket, releaseHold: () => void): MessageListener {
    const connection = new Connection(socket, ticket, this.options, releaseHold, this.events);
    this.connections.add(connection);
    this.log.debug(
      { connection: connection.id, doc: ticket.documentName, address: ticket.remoteAddress, user: ticket.identity, mode: ticket.mode },
      'connection opened',
    );
    this.rooms.acquire(ticket.documentName).then(
      (loaded) => this.joined(connection, loaded),
      (error: unknown) => {
        this.log.error({ err: error, doc: ticket.documentName }, 'could not load document');
        connection.close(CLOSE.internalError, 'the document could not be loaded');
      },
    );
    return connection;
  }

  /**
   * What the engine does on every connection's events: one object, shared by all of them, so an
   * idle connection holds no closures of its own.
   */
  private connectionEvents(): ConnectionEvents {
    return {
      message: (connection, data, binary) => this.receive(connection, data, binary),
      error: (connection, error) => this.log.debug({ err: error, connection: connection.id }, 'socket error'),
      close: (connection) => this.closed(connection),
    };
  }

  private receive(connection: Connection, frame: Uint8Array, binary: boolean): void {
    if (!connection.isOpen) return;
    // The socket holds the connection to its message rate and refuses text at its first frame (see
    // `ReceiveLimits`); a text message here comes from a socket told to take them.
    if (!binary) {
      connection.close(CLOSE.unsupportedData, 'text frames are not supported: send binary y-websocket messages');
      return;
    }
    const room = connection.room;
    if (room && !room.failed) this.handle(connection, room, frame);
    else if (room) {
      // Its room failed: a connection kept open waits for the reloaded document (see `moveOnReload`).
      if (connection.waiting && !connection.wait(frame)) connection.close(CLOSE.policyViolation, 'too many messages while the document reloads');
    } else if (!connection.waiting) {
      // The first message while the room loads, which a large document waits for (see RoomRegistry).
      this.rooms.heard(connection.ticket.documentName);
      connection.startWaiting(isInitialSyncStep1(frame) && this.answerFromStore(connection) ? null : frame);
    } else if (!connection.wait(frame)) connection.close(CLOSE.policyViolation, 'too many messages while the document loads');
  }

  /**
   * Runs `body` with the loaded room of `name`, held loaded meanwhile by the same hold an upgrade
   * takes, so it is refused the same way (`HttpError(503)`: too many documents, the store down).
   */
  async withRoom<T>(name: string, body: (room: Room<EngineMember>) => Promise<T>): Promise<T> {
    const release = await this.rooms.hold(name);
    try {
      for (let attempt = 1; ; attempt++) {
        const room = await this.rooms.acquire(name);
        // A room that failed as it loaded (another client's update broke it) is loaded again.
        if (!room.failed || attempt === LOAD_ATTEMPTS) return await body(room);
      }
    } finally {
      release();
    }
  }

  private joined(connection: Connection, loaded: Room<EngineMember>): void {
    if (this.enter(connection, loaded)) this.handleBacklog(connection);
  }

  /**
   * Adds the connection to its loaded room; false if it did not stay there. A room that failed as
   * it loaded (another connection's first messages broke it) is loaded again for it.
   */
  private enter(connection: Connection, loaded: Room<EngineMember>): boolean {
    connection.releaseHold();
    if (loaded.failed) {
      this.rooms.acquire(connection.ticket.documentName).then(
        (room) => this.joined(connection, room),
        (error: unknown) => {
          this.log.error({ err: error, doc: connection.ticket.documentName }, 'could not load document');
          connection.close(CLOSE.internalError, 'the document could not be loaded');
        },
      );
      return false;
    }
    if (loaded.deleting || (loaded.deletedAt !== null && !connection.ticket.create)) {
      connection.close(CLOSE.deleted, 'the document was deleted; connect with create=1 to create it again, holding nothing of it');
      this.rooms.release(loaded);
      return false;
    }
    if (loaded.deletedAt !== null) loaded.revive();
    connection.enter(loaded);
    if (!connection.isOpen) {
      loaded.leave(connection);
      this.rooms.release(loaded);
      return false;
    }
    return true;
  }

  /**
   * Handles what the connection sent while its room loaded. If one of those messages (its own, or
   * before it another connection's) fails the room, the rest waits, in order, for the reload (see
   * `moveOnReload`), or goes with the connection if it was closed.
   */
  private handleBacklog(connection: Connection): void {
    const frames = connection.takeBacklog();
    if (frames === null) return;
    for (let i = 0; i < frames.length; i++) {
      const room = connection.room;
      if (room === null || room.failed) {
        // `moveOnReload` gave a kept connection a new backlog as the room failed.
        connection.putBack(frames.slice(i));
        return;
      }
      this.handle(connection, room, frames[i]!);
    }
  }

  /** Connections that an update failing their room kept open (see `reload.ts`) move to the reloaded document. */
  private moveOnReload(survivors: readonly Connection[], reloaded: Promise<Room<EngineMember>>): void {
    moveSurvivors(
      survivors,
      reloaded,
      {
        leaveFailed: (connection) => connection.room?.forget(connection),
        enter: (connection, room) => this.enter(connection, room),
        dropPresence: (room, connection) => room.dropPresence(connection),
        resume: (connection) => this.handleBacklog(connection),
        release: (room) => this.rooms.release(room),
      },
      this.log,
      survivors[0]?.ticket.documentName ?? '',
    );
  }

  private closed(connection: Connection): void {
    this.logClose(connection);
    this.connections.delete(connection);
    const room = connection.room;
    if (room) {
      room.leave(connection);
      this.rooms.release(room);
    }
  }

  /** Closes every connection, then drains every pending write and compacts every room. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const connection of this.connections) connection.close(CLOSE.goingAway, 'the server is shutting down');
    this.history.close();
    await this.rooms.closeAll();
  }

  private handle(connection: Connection, room: Room<EngineMember>, frame: Uint8Array): void {
    if (!connection.isOpen || room.failed) return;
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame, this.scanner);
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

  /** Limits, expiry and broken frames close connections for the client's reasons, not the server's: worth a line each. */
  private logClose(connection: Connection): void {
    const closed = connection.closedWith;
    const { documentName, remoteAddress, identity } = connection.ticket;
    const fields = { connection: connection.id, doc: documentName, address: remoteAddress, user: identity };
    if (closed && CLIENT_CAUSED.has(closed.code)) this.log.info({ ...fields, code: closed.code }, `closed a connection: ${closed.reason}`);
    else this.log.debug({ ...fields, ...(closed ? { code: closed.code } : {}) }, 'connection closed');
  }

  private pingAll(): void {
    for (const connection of this.connections) {
      if (connection.pingIfAlive()) continue;
      this.log.info({ connection: connection.id, doc: connection.ticket.documentName }, 'dropping a peer that did not answer a ping');
      connection.terminate();
    }
  }
}

/** Close codes for the client's reasons (limits, expiry, protocol), not the server's. */
const CLIENT_CAUSED: ReadonlySet<number> = new Set([CLOSE.protocolError, CLOSE.policyViolation, CLOSE.messageTooBig, CLOSE.tryAgainLater]);

function isConnection(member: EngineMember): member is Connection {
  return member instanceof Connection;
}

/** A Yjs update that changes nothing. */
const EMPTY_UPDATE = Uint8Array.of(0, 0);
