/**
 * Tokens for tests: a fixed secret the test servers are started with, and tokens minted with it
 * the way the server's own minting CLI does.
 */
import { mintToken, secretKey, type AccessMode } from '../../server/auth/token.js';

/** The secret of servers started with `authArgs`. */
export const TEST_SECRET = 'a-test-secret-that-is-long-enough-for-hs256!';

/** Command-line arguments that turn auth on with `TEST_SECRET`. */
export const authArgs = ['--auth-secret', TEST_SECRET];

/** A token for `doc` (a name or a prefix ending in `*`) in `mode`, valid for `ttlSeconds`. */
export function token(doc: string, mode: AccessMode = 'rw', options: { ttlSeconds?: number; sub?: string; admin?: boolean } = {}): Promise<string> {
  return mintToken(secretKey(TEST_SECRET), { doc, mode, sub: options.sub, admin: options.admin }, options.ttlSeconds ?? 3600);
}

/** `url` with `params` added to its query. */
export function withQuery(url: string, params: Record<string, string>): string {
  const search = new URLSearchParams(params).toString();
  return `${url}${url.includes('?') ? '&' : '?'}${search}`;
}
