/**
 * Redis URLs as the options take them, checked without loading the Redis client (the command line
 * checks them; only a server that uses the bus loads it).
 */

/** Throws RangeError, saying what is expected, for a URL the bus cannot connect with. */
export function checkRedisUrl(url: string): void {
  const expected = `expected a URL such as redis://host:6379, rediss://host:6380 or unix:///run/redis.sock, got "${redactUrl(url)}"`;
  if (/^unix:\/\//.test(url)) {
    // unix://[user[:password]@]/path/to/socket[?db=N], as node-redis reads it.
    if (!/^unix:\/\/(?:[^:@/]*(?::[^@/]*)?@)?\/[^?#]+(?:\?[^#]*)?$/.test(url)) throw new RangeError(expected);
    return;
  }
  if (!/^rediss?:\/\//.test(url) || !URL.canParse(url)) throw new RangeError(expected);
  const { hostname, pathname } = new URL(url);
  if (hostname === '' || !/^\/?\d*$/.test(pathname)) throw new RangeError(expected);
}

/** `url` without its password, for logs and messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}
