/**
 * The client address of a request, for per-address limits, presence ownership and logs: the
 * socket's peer, unless that peer is a reverse proxy this server trusts (`--trust-proxy`), whose
 * header (`--proxy-header`: `X-Forwarded-For`, or RFC 7239 `Forwarded`) then says whom it forwards
 * for.
 *
 * A proxy appends the address it got the request from to what the header said already, so the
 * header lists hops from the client (left) to the last proxy (right), and whatever is left of what
 * a trusted proxy appended may be made up by the client. The client address is therefore the
 * rightmost hop that is not itself a trusted proxy, reading leftwards from the socket's peer; a
 * hop that cannot be read (`unknown`, an obfuscated `_name`, garbage) ends the reading there, at
 * the trusted proxy that passed it on. From a peer that is not trusted, the header is ignored
 * entirely: the address is the socket's, exactly as without `--trust-proxy`.
 *
 * Only the one header the proxy sets is read: a proxy rewrites or appends to its own header and
 * passes any other through untouched, so reading both would let a client choose its address.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { formatIp, formatIpRange, inRange, type IpBytes, type IpRange, parseIp, parseIpRange } from './ip-address.js';

/** The header trusted proxies give the client address in. */
export type ProxyHeader = 'x-forwarded-for' | 'forwarded';

/** The shorthand `loopback`: proxies on this host. */
const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * The canonical ranges (`10.0.0.0/8`, `::1/128`) an entry of `--trust-proxy` stands for: an IPv4
 * or IPv6 address, a CIDR range, or `loopback`. Null if it is none of them.
 */
export function parseTrustedProxy(entry: string): string[] | null {
  if (entry.toLowerCase() === 'loopback') return LOOPBACK;
  const range = parseIpRange(entry);
  return range === null ? null : [formatIpRange(range)];
}

/** The request as far as its client address goes. */
export interface AddressedRequest {
  readonly socket: { readonly remoteAddress?: string | undefined };
  readonly headers: IncomingHttpHeaders;
}

/** Which peers are trusted proxies, and the client address of a request (see the top of this file). */
export class ProxyTrust {
  private readonly ranges: readonly IpRange[];

  /**
   * `ranges` as `parseTrustedProxy` writes them (any entry it takes); none trusts no one, and
   * every request's address is its socket's. Throws `RangeError` on an entry that is not one.
   */
  constructor(
    ranges: readonly string[],
    private readonly header: ProxyHeader,
  ) {
    this.ranges = ranges.flatMap((entry) => {
      const parsed = parseTrustedProxy(entry);
      if (parsed === null) throw new RangeError(`not an IP address or CIDR range: "${entry}"`);
      return parsed.map((range) => parseIpRange(range)!);
    });
  }

  /** Whether `address` (as a socket reports it) is a trusted proxy's. */
  trusts(address: string | undefined): boolean {
    if (this.ranges.length === 0 || address === undefined) return false;
    const bytes = parseIp(address);
    return bytes !== null && this.trustsBytes(bytes);
  }

  /** The client address of `request` (see the top of this file). */
  clientAddress(request: AddressedRequest): string {
    const peer = request.socket.remoteAddress ?? 'unknown';
    if (!this.trusts(peer)) return peer;
    const value = request.headers[this.header];
    if (value === undefined) return peer;
    const hops = this.header === 'forwarded' ? forwardedHops(String(value)) : forwardedForHops(String(value));
    let client: IpBytes | null = null;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (hop === null) break;
      client = hop;
      if (!this.trustsBytes(hop)) break;
    }
    return client === null ? peer : formatIp(client);
  }

  private trustsBytes(bytes: IpBytes): boolean {
    return this.ranges.some((range) => inRange(bytes, range));
  }
}

/** The hops of an `X-Forwarded-For` value (repeated headers arrive joined by commas), null for one that is not an address. */
function forwardedForHops(value: string): Array<IpBytes | null> {
  return value.split(',').map((entry) => hopAddress(entry.trim()));
}

/**
 * The `for=` hops of a `Forwarded` value (RFC 7239, section 4): elements separated by commas,
 * parameters by semicolons, values tokens or quoted strings (whose commas and semicolons are
 * text). An element without `for` is an unreadable hop.
 */
function forwardedHops(value: string): Array<IpBytes | null> {
  const hops: Array<IpBytes | null> = [];
  let forValue: string | null = null;
  let pair = '';
  const endPair = () => {
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === 'for') forValue = pair.slice(equals + 1).trim();
    pair = '';
  };
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '"') {
      // A quoted string, unquoted into the pair; its escapes (\") taken literally.
      let j = i + 1;
      for (; j < value.length && value[j] !== '"'; j++) pair += value[j] === '\\' && j + 1 < value.length ? value[++j] : value[j];
      i = j;
    } else if (char === ';') {
      endPair();
    } else if (char === ',') {
      endPair();
      hops.push(forValue === null ? null : hopAddress(forValue));
      forValue = null;
    } else {
      pair += char;
    }
  }
  endPair();
  hops.push(forValue === null ? null : hopAddress(forValue));
  return hops;
}

/**
 * The address of one hop, with or without a port: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
 * `[2001:db8::1]`, `[2001:db8::1]:4711`. Null for `unknown`, an obfuscated name or anything else.
 */
function hopAddress(text: string): IpBytes | null {
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(text);
  if (bracketed !== null) return parseIp(bracketed[1]!);
  const withPort = /^([\d.]+):\d{1,5}$/.exec(text);
  return parseIp(withPort === null ? text : withPort[1]!);
}
