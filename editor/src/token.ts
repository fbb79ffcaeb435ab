/**
 * What an access token (a JWT, see the server's `--auth-secret`) says about its holder, read in the
 * browser WITHOUT verifying it: only to decide what the editor offers (a read-only editor from the
 * start, a Restore or Delete button). The server verifies every token and refuses what it does not
 * allow, whatever the editor shows.
 */

/** The claims the editor reads. */
export interface TokenClaims {
  /** `rw` or `ro`; null when the token does not say. */
  readonly mode: 'rw' | 'ro' | null;
  /** Whether the token says `"admin": true` (deleting and restoring, on the server). */
  readonly admin: boolean;
}

/** What the editor offers its user. */
export interface Permissions {
  /** Editing, taking a named version, creating a deleted document again. */
  readonly write: boolean;
  /** Restoring a version and deleting the document (the server requires `admin` with `rw`). */
  readonly admin: boolean;
}

/** The claims in `token`'s payload, or null if it is not a JWT with a JSON object payload. */
export function tokenClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return null;
  let claims: unknown;
  try {
    const binary = atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return null;
  const { mode, admin } = claims as { mode?: unknown; admin?: unknown };
  return { mode: mode === 'rw' || mode === 'ro' ? mode : null, admin: admin === true };
}

/** The `mode` claim of `token`, or null if it cannot be read. */
export function tokenMode(token: string): 'rw' | 'ro' | null {
  return tokenClaims(token)?.mode ?? null;
}

/**
 * What to offer the holder of `token`. No token: everything, as a server without `--auth-secret`
 * allows everything (one with it refuses the connection, and says why). A token whose claims
 * cannot be read: writing (the server decides), but nothing that needs `admin`.
 */
export function tokenPermissions(token: string | undefined): Permissions {
  if (token === undefined || token === '') return { write: true, admin: true };
  const claims = tokenClaims(token);
  if (claims === null) return { write: true, admin: false };
  const write = claims.mode !== 'ro';
  return { write, admin: write && claims.admin };
}
