/**
 * The WebSocket upgrade gate.
 *
 * Every upgrade request is checked (path, document name, origin, token, per-address and room
 * limits: see `admission.ts`) before the WebSocket handshake. A refusal is a complete HTTP
 * response with its status and a JSON body giving the reason; an accepted request is handed to
 * the `ws` server with the ticket the checks issued.
 *
 * Why not `@hono/node-ws`: it answers refused upgrades with a bare status line (the reason is
 * lost), and every open socket keeps the upgrade's Hono Context, Request and their closures alive,
 * about 3.7 KiB per idle connection (15% of the server's memory per connection, measured with
 * 2,000 connections). Hono still serves every plain HTTP request.
 */
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { HttpError } from '../errors.js';
import type { ConnectionTicket } from '../sync/connection.js';

/** Decides whether an upgrade request may proceed; throws `HttpError` to refuse it. */
export type UpgradeCheck = (request: IncomingMessage) => Promise<ConnectionTicket>;

export interface UpgradeGate {
  /** The checks; an `HttpError` refuses with its status, anything else with 503 (and is reported). */
  readonly check: UpgradeCheck;
  /** Receives each accepted socket with its ticket. */
  readonly accept: (socket: WebSocket, ticket: ConnectionTicket) => void;
  /** Unexpected failures of `check`, for the log. */
  readonly onError: (error: unknown) => void;
}

/** Installs the gate on `server`, completing accepted handshakes with `wss` (a `noServer` WebSocketServer). */
export function installUpgradeGate(server: Server, wss: WebSocketServer, gate: UpgradeGate): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    gate.check(request).then(
      (ticket) => {
        if (socket.destroyed) return;
        wss.handleUpgrade(request, socket, head, (ws) => gate.accept(ws, ticket));
      },
      (error: unknown) => {
        const refusal =
          error instanceof HttpError ? error : new HttpError(503, 'unavailable', 'the server could not accept the connection');
        if (!(error instanceof HttpError)) gate.onError(error);
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
