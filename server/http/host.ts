/**
 * Which host names requests may address: the defence against DNS rebinding.
 *
 * The origin check (`origin.ts`) lets a page of the server's own origin in. A page on an attacker's
 * name that is made to resolve to this server's address (DNS rebinding: `evil.example`, first the
 * attacker's server, then 127.0.0.1) is of "the server's own origin" as far as the browser can
 * tell, and the request it sends carries `Host: evil.example`. So requests are served only for the
 * names this server is known by: `localhost` (and `*.localhost`), any IP address (a page can only
 * be at an IP address by being loaded from that address), and the names listed in
 * `--allowed-hosts`, or any with `*`. Requests without a `Host` header do not come from a browser.
 */
import { isIP } from 'node:net';
import { HttpError } from '../errors.js';

/** Refuses (`HttpError(403)`) a request whose `Host` names this server by a name it was not given. */
export function checkHost(host: string | undefined, allowed: readonly string[]): void {
  if (host === undefined || allowed.includes('*')) return;
  const name = hostname(host);
  if (name !== null && (isIP(name.replace(/^\[|\]$/g, '')) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.includes(name))) return;
  throw new HttpError(
    403,
    'host-not-allowed',
    `requests for ${JSON.stringify(host).slice(0, 200)} are refused: if this server is reached by that name, list it in --allowed-hosts (ALLOWED_HOSTS)`,
  );
}

/** The host name of a `Host` header (no port, lower case, no trailing dot), or null if it is not one. */
export function hostname(host: string): string | null {
  if (host.includes('/') || host.includes('@') || !URL.canParse(`http://${host}`)) return null;
  return new URL(`http://${host}`).hostname.replace(/\.$/, '');
}
