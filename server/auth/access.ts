/**
 * Who may do what: a request's token becomes a `Grant`, and a grant covers documents.
 *
 * Without a secret the server is open and every request gets `OPEN_GRANT` (every document, read
 * and write). With one, every WebSocket and every document API request needs a valid token.
 */
import { HttpError } from '../errors.js';
import { secretKey, TokenError, verifyToken, type AccessMode } from './token.js';

/** What a request may do: which documents, in which mode, as whom, until when. */
export interface Grant {
  /** A document name, or a prefix ending in `*`. */
  readonly doc: string;
  readonly mode: AccessMode;
  /** The token's `sub`, for logs; null when the token has none or the server is open. */
  readonly identity: string | null;
  /** When the token expires, in ms since the epoch; null when the server is open. */
  readonly expiresAt: number | null;
  /** Deleting and restoring the documents it covers is allowed too. */
  readonly admin: boolean;
}

/** What every request may do on a server without `--auth-secret`: everything. */
export const OPEN_GRANT: Grant = { doc: '*', mode: 'rw', identity: null, expiresAt: null, admin: true };

/** Turns a request's token into its grant, with the server's secret (or none: everything is open). */
export class Access {
  private readonly key: Uint8Array | null;

  /** `secret` null runs the server open. Throws `RangeError` for a secret too short to be safe. */
  constructor(secret: string | null) {
    this.key = secret === null ? null : secretKey(secret);
  }

  /** True when no secret is configured: anyone may read and write every document. */
  get open(): boolean {
    return this.key === null;
  }

  /**
   * The grant a request's token carries. Throws `HttpError(401)` when a secret is set and the token
   * is missing, does not verify, has expired or has claims we do not understand.
   */
  async authenticate(token: string | null | undefined): Promise<Grant> {
    if (this.key === null) return OPEN_GRANT;
    if (!token) throw new HttpError(401, 'token-missing', 'a token is needed: pass it as the "token" query parameter');
    try {
      const claims = await verifyToken(token, this.key);
      return { doc: claims.doc, mode: claims.mode, identity: claims.sub ?? null, expiresAt: claims.exp * 1000, admin: claims.admin === true };
    } catch (error) {
      if (error instanceof TokenError) throw new HttpError(401, error.code, error.message);
      throw error;
    }
  }
}

/** Whether `grant` covers the document `name` (in any mode). */
export function covers(grant: Grant, name: string): boolean {
  return grant.doc.endsWith('*') ? name.startsWith(grant.doc.slice(0, -1)) : name === grant.doc;
}

/**
 * Refuses with `HttpError(403)` unless `grant` covers `name` in mode `need`: a `rw` grant
 * allows both modes, a `ro` grant only reading.
 */
export function authorize(grant: Grant, name: string, need: AccessMode): void {
  if (!covers(grant, name)) {
    throw new HttpError(403, 'wrong-document', `the token does not grant access to "${name}"`);
  }
  if (need === 'rw' && grant.mode !== 'rw') {
    throw new HttpError(403, 'wrong-mode', `the token grants read-only access to "${name}"`);
  }
}

/** Refuses with `HttpError(403)` unless `grant` covers `name` as an administrator (`admin: true`). */
export function authorizeAdmin(grant: Grant, name: string): void {
  authorize(grant, name, 'rw');
  if (!grant.admin) throw new HttpError(403, 'not-admin', `deleting or restoring "${name}" needs a token with "admin": true`);
}

/**
 * The token of an HTTP request: the `token` query parameter (what the editor and the y-websocket
 * client send), or an `Authorization: Bearer` header (what a backend would send).
 */
export function requestToken(query: URLSearchParams, authorization: string | undefined): string | null {
  const bearer = authorization === undefined ? null : /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  return bearer ?? query.get('token');
}
