/**
 * The WebSocket upgrade gate.
 *
 * Every upgrade request is checked before the WebSocket handshake: that it is a handshake this
 * server completes (`handshake.ts`), then the owner's checks (the server's are in
 * `http/admission.ts`). A refusal is a complete HTTP response with its status and a JSON body
 * giving the reason; an accepted request gets the handshake's answer, and its socket goes to the
 * owner with what the checks established. Nothing here outlives the handshake: an open connection
 * keeps neither the request nor its bytes. (Why not `@hono/node-ws`: see
 * docs/decisions/2026-12-07-own-websocket-layer.md.)
 */
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HttpError } from '../errors.js';
import { type DeflateParams, negotiateDeflate } from './deflate.js';
import { handshakeKey, handshakeResponse } from './handshake.js';

/** What the checks established about an admitted request: the owner's own, and a hold to give back. */
export interface Admission {
  /**
   * Gives back the place the checks took for the connection in its room (idempotent). The checks
   * also register it for the socket's 'close', which the gate removes when it hands the socket over:
   * from then on `accept`'s receiver calls it.
   */
  readonly releaseHold: () => void;
}

/** Decides whether an upgrade request may proceed; throws `HttpError` to refuse it. */
export type UpgradeCheck<A extends Admission> = (request: IncomingMessage) => Promise<A>;

/** What the gate is installed with. */
export interface UpgradeGate<A extends Admission> {
  /** The checks; an `HttpError` refuses with its status, anything else with 503 (and is reported). */
  readonly check: UpgradeCheck<A>;
  /**
   * Receives each socket whose handshake was answered, with what the client sent after its
   * handshake (`head`) and its admission; it owns the socket and `releaseHold` from then on.
   */
  readonly accept: (socket: Socket, head: Uint8Array, admission: A, deflate: DeflateParams | null) => void;
  /** Whether permessage-deflate is agreed to when a client offers it. */
  readonly compression: boolean;
  /** Milliseconds the checks may take; past it the upgrade is refused (503). */
  readonly timeoutMs: number;
  /** Unexpected failures of `check`, for the log. */
  readonly onError: (error: unknown) => void;
  /** Each refusal, as it is answered, for the log. */
  readonly onRefused: (request: IncomingMessage, refusal: HttpError) => void;
}

/** Installs the gate on `server`. */
export function installUpgradeGate<A extends Admission>(server: Server, gate: UpgradeGate<A>): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A named function, not a closure: a closure here would share this scope's context with the
    // callbacks below and keep `request` and `head` alive as long as the socket.
    socket.on('error', destroySocket);
    let key: string;
    try {
      key = handshakeKey(request);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      gate.onRefused(request, error);
      refuseSocket(socket, error);
      return;
    }
    const deflate = gate.compression ? negotiateDeflate(request.headers['sec-websocket-extensions']) : null;
    let decided = false;
    const deadline = setTimeout(() => {
      if (decided) return;
      decided = true;
      const refusal = new HttpError(503, 'unavailable', `the server could not accept the connection within ${gate.timeoutMs} ms; try again`);
      gate.onRefused(request, refusal);
      refuseSocket(socket, refusal);
    }, gate.timeoutMs);
    deadline.unref();
    gate.check(request).then(
      (admission) => {
        clearTimeout(deadline);
        // Closed meanwhile, or refused as too late: the checks' 'close' listener gives the hold back.
        if (decided || socket.destroyed) return;
        decided = true;
        socket.removeListener('close', admission.releaseHold);
        socket.removeListener('error', destroySocket);
        socket.write(handshakeResponse(key, deflate?.response ?? null));
        gate.accept(socket as Socket, head, admission, deflate);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        if (decided) return;
        decided = true;
        const refusal = error instanceof HttpError ? error : new HttpError(503, 'unavailable', 'the server could not accept the connection');
        if (!(error instanceof HttpError)) gate.onError(error);
        gate.onRefused(request, refusal);
        refuseSocket(socket, refusal);
      },
    );
  });
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function destroySocketLater(socket: Duplex): void {
  socket.destroy();
}

/**
 * How long a refused request's socket stays open after the refusal is written, for the client to
 * read it and close its side. Node's HTTP server keeps sockets half-open: without this, a client
 * that never closes would hold the socket (and its address's place under
 * `--max-connections-per-address`) forever.
 */
const REFUSAL_LINGER_MS = 2000;

/**
 * Answers `socket` with `error` as a complete HTTP response (its status, a JSON body) and ends it,
 * reading past whatever else the client sends; the socket goes after `REFUSAL_LINGER_MS` at most.
 */
export function refuseSocket(socket: Duplex, error: HttpError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(error.toJSON());
  const timer = setTimeout(destroySocketLater, REFUSAL_LINGER_MS, socket);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Whatever else the client sends is read past, so that the close is not a reset that might
  // lose the refusal before the client reads it.
  socket.resume();
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      // RFC 6455, section 4.2.2: a version refusal says which version the server speaks.
      (error.status === 426 ? 'Sec-WebSocket-Version: 13\r\n' : '') +
      'Connection: close\r\n\r\n' +
      body,
  );
}
