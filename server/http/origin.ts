/**
 * Which web pages may open a WebSocket to this server.
 *
 * Browsers let any page open a WebSocket to any host, and send the page's `Origin` with it. Without
 * a check, a page on any site a user visits could connect to a server on their machine or intranet
 * (an open server on 127.0.0.1, say) and read or change its documents. So by default only pages of
 * the server's own origin (its editor) may connect; an app that embeds the editor from elsewhere
 * lists its origin in `--allowed-origins`. Requests without an `Origin` (Node, native apps, scripts)
 * are not from a browser page; they can send any header they like, so the check is not for them.
 */
import { HttpError } from '../errors.js';

/**
 * Refuses (`HttpError(403)`) a browser request whose `origin` is neither the server's own (same
 * host as the request's `Host` header) nor in `allowed` (normalized origins, or `*`).
 */
export function checkOrigin(origin: string | undefined, host: string | undefined, allowed: readonly string[]): void {
  if (origin === undefined || allowed.includes('*')) return;
  let normalized: string | null = null;
  let originHost: string | null = null;
  if (URL.canParse(origin)) {
    const url = new URL(origin);
    normalized = url.origin;
    originHost = url.host;
  }
  // The host alone, not the scheme: behind a TLS-terminating proxy the page is https and the
  // request to us plain http, yet it is the same site.
  if (originHost !== null && host !== undefined && originHost === host.toLowerCase()) return;
  if (normalized !== null && normalized !== 'null' && allowed.includes(normalized)) return;
  throw new HttpError(403, 'origin-not-allowed', `pages from ${JSON.stringify(origin).slice(0, 200)} may not connect; see --allowed-origins`);
}
