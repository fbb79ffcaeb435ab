/**
 * Who may open a WebSocket: the checks the upgrade gate runs before the handshake, cheapest first.
 * Each refusal is an `HttpError` the gate answers with its status and reason:
 *
 *   404 not under /ws/        400 invalid document name    403 host name or page origin not allowed
 *   401 token missing, invalid or expired                  403 token for another document, or
 *                                                              read-only while `?mode=rw` was asked
 *   429 too many connections from this address             503 too many documents loaded
 *
 * An admitted request holds a place under each limit from then on, so a burst of simultaneous
 * upgrades cannot slip past them together.
 */
import type { IncomingMessage } from 'node:http';
import { type Access, authorize, type Grant } from '../auth/access.js';
import type { ServerConfig } from '../config.js';
import { HttpError } from '../errors.js';
import { DocumentNameError, parseDocumentName } from '../../protocol/document-name.js';
import type { RoomRegistry } from '../sync/registry.js';
import type { AddressLimit } from './address-limit.js';
import type { ProxyTrust } from './client-address.js';
import { checkHost } from './host.js';
import { checkOrigin } from './origin.js';
import type { ConnectionTicket } from '../sync/member.js';
import type { Admission, UpgradeCheck } from '../websocket/upgrade.js';

/** Where WebSockets connect: `/ws/<document name>`. */
export const WS_PREFIX = '/ws/';

/** The options the admission checks read. */
export type AdmissionConfig = Pick<ServerConfig, 'maxNameLength' | 'allowedOrigins' | 'allowedHosts' | 'maxConnectionsPerAddress'>;

/**
 * The checks that do not depend on the server's load: the name, the host and origin, the token.
 *
 * They read the raw request target, not a parsed URL: URL parsing resolves "." and ".." segments
 * (even percent-encoded ones), and the name must be decoded exactly once, as sent.
 */
export async function checkAccess(
  config: AdmissionConfig,
  access: Access,
  request: Pick<IncomingMessage, 'url'>,
  headers: { readonly host?: string | undefined; readonly origin?: string | undefined },
): Promise<{ documentName: string; grant: Grant; query: URLSearchParams }> {
  const target = request.url ?? '/';
  const queryStart = target.indexOf('?');
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : target.slice(queryStart + 1));
  if (!path.startsWith(WS_PREFIX)) {
    throw new HttpError(404, 'not-found', `WebSocket connections go to ${WS_PREFIX}<document name>`);
  }
  const documentName = documentNameOf(path.slice(WS_PREFIX.length), config.maxNameLength);
  checkHost(headers.host, config.allowedHosts);
  checkOrigin(headers.origin, headers.host, config.allowedOrigins);
  const grant = await access.authenticate(query.get('token'));
  // A client that cannot work read-only asks for `mode=rw`, and is refused rather than muted.
  authorize(grant, documentName, query.get('mode') === 'rw' ? 'rw' : 'ro');
  return { documentName, grant, query };
}

/** An admitted WebSocket: what the sync engine needs to know of it. */
export interface ConnectionAdmission extends Admission {
  readonly ticket: ConnectionTicket;
}

/**
 * The upgrade gate's checks for WebSockets to `/ws/<name>`, holding a place under each limit for
 * an admitted one. The client address (the socket's, or what a trusted proxy says, see
 * `client-address.ts`) is what the connection counts for and is known by from then on.
 */
export function createUpgradeCheck(
  config: AdmissionConfig,
  access: Access,
  rooms: Pick<RoomRegistry<never>, 'hold'>,
  addresses: AddressLimit,
  proxies: ProxyTrust,
): UpgradeCheck<ConnectionAdmission> {
  return async (request: IncomingMessage): Promise<ConnectionAdmission> => {
    const { documentName, grant, query } = await checkAccess(config, access, request, request.headers);
    const socket = request.socket;
    const remoteAddress = proxies.clientAddress(request);
    addresses.admit(remoteAddress, socket);
    const releaseHold = await rooms.hold(documentName);
    // Given back when the connection joins its room, or here if it is never accepted (the gate
    // removes this listener when it hands the socket over).
    socket.on('close', releaseHold);
    if (socket.destroyed) releaseHold();
    const ticket = {
      documentName,
      acks: query.get('ack') === '1',
      // Only a writer can create a document; a reader's `create=1` means nothing.
      create: query.get('create') === '1' && grant.mode === 'rw',
      remoteAddress,
      mode: grant.mode,
      identity: grant.identity,
      expiresAt: grant.expiresAt,
    };
    return { ticket, releaseHold };
  };
}

/** The document name in a raw path, or `HttpError(400, 'invalid-document-name')` with the reason. */
function documentNameOf(raw: string, maxLength: number): string {
  try {
    return parseDocumentName(raw, maxLength);
  } catch (error) {
    if (error instanceof DocumentNameError) throw new HttpError(400, error.code, error.message);
    throw error;
  }
}
