/**
 * IP addresses and ranges as the proxy settings need them: parsed strictly, compared as numbers,
 * and written in one canonical form, so that `2001:DB8::1` and `2001:db8:0:0::1`, or `127.0.0.1`
 * and `::ffff:127.0.0.1` (how a dual-stack socket reports an IPv4 peer), are one address.
 *
 * Every address is held as 16 bytes of IPv6, an IPv4 address as IPv4-mapped (`::ffff:a.b.c.d`); a
 * range of IPv4 addresses is then a range of those (its prefix plus 96).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** An address as 16 bytes (see the top of this file). */
export type IpBytes = Uint8Array;

/** A CIDR range: the addresses whose first `prefix` bits (of 128) are those of `network`. */
export interface IpRange {
  readonly network: IpBytes;
  readonly prefix: number;
}

/** The 12 bytes before an IPv4-mapped address: `::ffff:`. */
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * The bytes of an IPv4 (dotted, four decimal parts, no leading zeros) or IPv6 address, or null
 * for anything else, zone indexes (`fe80::1%eth0`) included: they name an interface, not a host.
 */
export function parseIp(text: string): IpBytes | null {
  if (isIPv4(text)) {
    const parts = text.split('.');
    // Leading zeros are read as octal by some tools and decimal by others: refused.
    if (parts.some((part) => part.length > 1 && part.startsWith('0'))) return null;
    return Uint8Array.from([...MAPPED_PREFIX, ...parts.map(Number)]);
  }
  if (!isIPv6(text) || text.includes('%')) return null;
  const [left, right] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const head = left === '' ? [] : left.split(':');
  const tail = right === null || right === '' ? [] : right.split(':');
  const last = right === null ? head : tail;
  const dotted = last.at(-1);
  if (dotted?.includes('.')) {
    const v4 = parseIp(dotted);
    if (v4 === null) return null;
    last.splice(-1, 1, ((v4[12]! << 8) | v4[13]!).toString(16), ((v4[14]! << 8) | v4[15]!).toString(16));
  }
  const words = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  if (words.length !== 8) return null;
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    const value = Number.parseInt(word, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

/** Whether `bytes` is an IPv4 address (IPv4-mapped). */
export function isMappedIPv4(bytes: IpBytes): boolean {
  return MAPPED_PREFIX.every((byte, i) => bytes[i] === byte);
}

/** The canonical text of an address: dotted for IPv4, RFC 5952 for IPv6 (lower case, the longest run of zeros as `::`). */
export function formatIp(bytes: IpBytes): string {
  if (isMappedIPv4(bytes)) return bytes.slice(12).join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // WHATWG's IPv6 serializer is RFC 5952's.
  return new URL(`http://[${words.join(':')}]`).hostname.slice(1, -1);
}

/**
 * A range written `address` or `address/prefix` (IPv4 or IPv6), or null if it is not one. Bits
 * past the prefix are cleared: `10.1.2.3/8` is `10.0.0.0/8`.
 */
export function parseIpRange(text: string): IpRange | null {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (address === null) return null;
  const v4 = isIPv4(slash < 0 ? text : text.slice(0, slash));
  const bits = v4 ? 32 : 128;
  const digits = slash < 0 ? String(bits) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(digits) ? Number(digits) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) return null;
  return { network: masked(address, prefix + (128 - bits)), prefix: prefix + (128 - bits) };
}

/** The canonical text of a range: `10.0.0.0/8`, `::1/128`. */
export function formatIpRange({ network, prefix }: IpRange): string {
  return prefix >= 96 && isMappedIPv4(network) ? `${formatIp(network)}/${prefix - 96}` : `${formatIp(network)}/${prefix}`;
}

/** Whether `address` is in `range`. */
export function inRange(address: IpBytes, { network, prefix }: IpRange): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== network[i]) return false;
  const rest = prefix & 7;
  return rest === 0 || ((address[whole]! ^ network[whole]!) & (0xff << (8 - rest)) & 0xff) === 0;
}

function masked(address: IpBytes, prefix: number): IpBytes {
  const network = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    network[i] = address[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return network;
}
