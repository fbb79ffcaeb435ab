/**
 * Access tokens: JWTs signed with HS256 by the server's secret (`--auth-secret`).
 *
 * Claims:
 * - `doc`  a document name (`team/notes`), or a prefix ending in `*` (`team/*`; `*` alone is every
 *          document). The prefix is a plain string prefix: `team*` also covers `teammates`.
 * - `mode` `rw` (read and write) or `ro` (read only).
 * - `exp`  expiry, seconds since the epoch. Required: a token that never expires cannot be revoked.
 * - `sub`  optional; the user's id, shown in logs as the connection's identity.
 * - `admin` optional; `true` also allows deleting and restoring the documents the token covers.
 *
 * Only HS256 is accepted. A token signed with any other algorithm is refused before its signature
 * is looked at, so neither `alg: none` nor an RS256/ES256 token (the "algorithm confusion" that
 * passes a public key off as an HMAC secret) can get through.
 */
import type { JWTPayload } from 'jose';

/**
 * jose, loaded with the first token verified or signed: a server without `--auth-secret` never
 * needs it, and loading it costs about 2.4 MiB of resident memory (measured).
 */
let jose: Promise<typeof import('jose')> | null = null;
const loadJose = () => (jose ??= import('jose'));

/** `rw` reads and writes; `ro` only reads. */
export type AccessMode = 'rw' | 'ro';

/** The one algorithm tokens are signed and verified with. */
export const TOKEN_ALGORITHM = 'HS256';
/** HS256 secrets shorter than its 256-bit output make brute-forcing a captured token feasible. */
export const MIN_SECRET_BYTES = 32;

/** Longest `sub` claim accepted, in UTF-16 code units (`String.length`). */
export const MAX_SUB_LENGTH = 256;
/** Longest `doc` claim accepted, in UTF-16 code units: the longest name `--max-name-length` allows. */
export const MAX_DOC_CLAIM_LENGTH = 4096;

/** The claims of an access token. */
export interface TokenClaims {
  readonly doc: string;
  readonly mode: AccessMode;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  readonly sub?: string;
  /** Also allows deleting and restoring the documents `doc` covers. */
  readonly admin?: boolean;
}

/** Why a token was refused. */
export type TokenErrorCode = 'token-missing' | 'token-invalid' | 'token-expired';

/** A token that is missing, does not verify, has expired or carries claims we do not understand (HTTP 401). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The secret as key bytes. Throws `RangeError` if it is too short to be safe. */
export function secretKey(secret: string): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new RangeError(`the auth secret must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 48)`);
  }
  return key;
}

/** Verifies algorithm, signature, expiry and claims. Throws `TokenError`. */
export async function verifyToken(token: string, key: Uint8Array): Promise<TokenClaims> {
  const { jwtVerify, errors } = await loadJose();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: [TOKEN_ALGORITHM], requiredClaims: ['exp'] }));
  } catch (error) {
    throw fromJoseError(error, errors);
  }
  return claimsFrom(payload);
}

/** Signs a token for `doc` in `mode`, valid for `ttlSeconds`. */
export async function mintToken(
  key: Uint8Array,
  claims: { doc: string; mode: AccessMode; sub?: string | undefined; admin?: boolean | undefined },
  ttlSeconds: number,
): Promise<string> {
  checkDocClaim(claims.doc);
  const { SignJWT } = await loadJose();
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { doc: claims.doc, mode: claims.mode };
  if (claims.sub !== undefined) payload.sub = claims.sub;
  if (claims.admin === true) payload['admin'] = true;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(key);
}

/** Parses a lifetime: seconds (`3600`) or a number with a unit `s`, `m`, `h`, `d` (`15m`, `1h`, `7d`). */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  const scale = { s: 1, m: 60, h: 3600, d: 86_400 }[match?.[2] ?? 's'] ?? 1;
  const seconds = match ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new RangeError(`expected a lifetime such as 3600, 15m, 1h or 7d, got "${text}"`);
  }
  return seconds;
}

function claimsFrom(payload: JWTPayload): TokenClaims {
  const { doc, mode, exp, sub, admin } = payload;
  if (typeof doc !== 'string') throw invalid('its "doc" claim is missing or not a string');
  checkDocClaim(doc);
  if (mode !== 'rw' && mode !== 'ro') throw invalid('its "mode" claim must be "rw" or "ro"');
  if (sub !== undefined && (typeof sub !== 'string' || sub.length > MAX_SUB_LENGTH)) {
    throw invalid(`its "sub" claim must be a string of at most ${MAX_SUB_LENGTH} characters`);
  }
  if (admin !== undefined && typeof admin !== 'boolean') throw invalid('its "admin" claim must be true or false');
  return { doc, mode, exp: exp!, ...(sub === undefined ? {} : { sub }), ...(admin === true ? { admin } : {}) };
}

/** A name, or a prefix with a single `*` at its end; the server checks names, this only shapes. */
function checkDocClaim(doc: string): void {
  if (doc.length === 0 || doc.length > MAX_DOC_CLAIM_LENGTH || doc.slice(0, -1).includes('*')) {
    throw invalid('its "doc" claim must be a document name or a prefix ending in "*"');
  }
}

function invalid(reason: string): TokenError {
  return new TokenError('token-invalid', `invalid token: ${reason}`);
}

function fromJoseError(error: unknown, errors: typeof import('jose').errors): TokenError {
  if (error instanceof errors.JWTExpired) return new TokenError('token-expired', 'the token has expired');
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalid(`only ${TOKEN_ALGORITHM} tokens are accepted`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid('its signature does not verify');
  if (error instanceof errors.JWTClaimValidationFailed) return invalid(`claim "${error.claim}" ${error.reason === 'missing' ? 'is missing' : 'is not valid'}`);
  if (error instanceof errors.JOSEError) return invalid('it is not a well-formed JWT');
  throw error;
}
