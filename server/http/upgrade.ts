/**
 * The WebSocket upgrade gate.
 *
 * Every upgrade request is checked (document name, and whatever policy the server adds) before
 * the WebSocket handshake. A refusal is a complete HTTP response with its status and a JSON body
 * giving the reason; `@hono/node-ws`'s own upgrade listener answers refusals with a bare status
 * line, so we put ours in front of it and hand it only the requests we accept.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionTicket } from '../sync/connection.js';
import { HttpError } from '../errors.js';

/** Decides whether an upgrade request may proceed; throws `HttpError` to refuse it. */
export type UpgradeCheck = (request: IncomingMessage) => Promise<ConnectionTicket>;

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

const tickets = new WeakMap<IncomingMessage, ConnectionTicket>();

/** The ticket the gate issued for an accepted upgrade request, for the WebSocket route. */
export function ticketFor(request: IncomingMessage): ConnectionTicket | undefined {
  return tickets.get(request);
}

/**
 * Installs the gate on `server`. `inject` is `@hono/node-ws`'s `injectWebSocket`; its listener is
 * captured and called only for accepted requests.
 */
export function installUpgradeGate(
  server: Server,
  inject: (target: Server) => void,
  check: UpgradeCheck,
  onError: (error: unknown) => void,
): void {
  const capture = new EventEmitter();
  inject(capture as unknown as Server);
  const [honoListener] = capture.listeners('upgrade') as UpgradeListener[];
  if (!honoListener) throw new Error('@hono/node-ws did not register an upgrade listener');

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    check(request).then(
      (ticket) => {
        tickets.set(request, ticket);
        honoListener(request, socket, head);
      },
      (error: unknown) => {
        const refusal =
          error instanceof HttpError ? error : new HttpError(503, 'unavailable', 'the server could not accept the connection');
        if (!(error instanceof HttpError)) onError(error);
        refuse(socket, refusal);
      },
    );
  });
}

function refuse(socket: Duplex, error: HttpError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(error.toJSON());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
