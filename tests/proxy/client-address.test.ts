/**
 * The client address of a request behind trusted proxies, in-process: the rightmost hop that is
 * not a trusted proxy, from `X-Forwarded-For` or RFC 7239 `Forwarded`; the header of an untrusted
 * peer ignored; addresses in one canonical form whichever way they are written.
 */
import { describe, expect, it } from 'vitest';
import { type AddressedRequest, type ProxyHeader, ProxyTrust, parseTrustedProxy } from '../../server/http/client-address.js';
import { formatIp, formatIpRange, inRange, parseIp, parseIpRange } from '../../server/http/ip-address.js';
import { seededRandom, testSeed } from '../helpers/clients.js';

function request(peer: string, headers: Record<string, string> = {}): AddressedRequest {
  return { socket: { remoteAddress: peer }, headers };
}

function trust(ranges: string[], header: ProxyHeader = 'x-forwarded-for'): ProxyTrust {
  return new ProxyTrust(
    ranges.flatMap((entry) => parseTrustedProxy(entry)!),
    header,
  );
}

describe('trusted proxy entries', () => {
  it('takes addresses, CIDR ranges and loopback, in canonical form, and refuses anything else', () => {
    expect(parseTrustedProxy('10.1.2.3')).toEqual(['10.1.2.3/32']);
    expect(parseTrustedProxy('10.1.2.3/8')).toEqual(['10.0.0.0/8']);
    expect(parseTrustedProxy('2001:DB8:0:0::1')).toEqual(['2001:db8::1/128']);
    expect(parseTrustedProxy('2001:db8::/32')).toEqual(['2001:db8::/32']);
    expect(parseTrustedProxy('::ffff:192.0.2.1')).toEqual(['192.0.2.1/32']);
    expect(parseTrustedProxy('::ffff:192.0.2.0/120')).toEqual(['192.0.2.0/24']);
    expect(parseTrustedProxy('::/0')).toEqual(['::/0']);
    expect(parseTrustedProxy('0.0.0.0/0')).toEqual(['0.0.0.0/0']);
    expect(parseTrustedProxy('Loopback')).toEqual(['127.0.0.0/8', '::1/128']);
    for (const bad of [
      '*',
      'proxy.example',
      '10.0.0.0/33',
      '::1/129',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '10.0.0.0/8/8',
      '010.0.0.1',
      '10.0.0',
      'fe80::1%eth0',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      expect(parseTrustedProxy(bad), bad).toBeNull();
    }
    expect(() => new ProxyTrust(['nonsense'], 'x-forwarded-for')).toThrow(RangeError);
  });

  it('matches IPv4 peers however the socket writes them, and IPv6 ranges bit by bit', () => {
    const proxies = trust(['127.0.0.1', '10.0.0.0/8', '2001:db8:abcd::/47']);
    expect(proxies.trusts('127.0.0.1')).toBe(true);
    expect(proxies.trusts('::ffff:127.0.0.1')).toBe(true);
    expect(proxies.trusts('127.0.0.2')).toBe(false);
    expect(proxies.trusts('10.255.255.255')).toBe(true);
    expect(proxies.trusts('11.0.0.0')).toBe(false);
    expect(proxies.trusts('2001:db8:abcd:1::5')).toBe(true);
    expect(proxies.trusts('2001:db8:abce::5')).toBe(false);
    expect(proxies.trusts('::1')).toBe(false);
    expect(proxies.trusts(undefined)).toBe(false);
    expect(trust([]).trusts('127.0.0.1')).toBe(false);
  });
});

describe('the client address', () => {
  it('is the peer, header or not, when no proxy is trusted or the peer is not one', () => {
    const forged = { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' };
    expect(trust([]).clientAddress(request('203.0.113.7', forged))).toBe('203.0.113.7');
    expect(trust(['10.0.0.0/8']).clientAddress(request('203.0.113.7', forged))).toBe('203.0.113.7');
    expect(trust(['10.0.0.0/8'], 'forwarded').clientAddress(request('::ffff:203.0.113.7', forged))).toBe('::ffff:203.0.113.7');
    expect(trust(['10.0.0.0/8']).clientAddress({ socket: {}, headers: forged })).toBe('unknown');
  });

  it("is the rightmost hop of a trusted peer's X-Forwarded-For that is not a trusted proxy", () => {
    const proxies = trust(['10.0.0.0/8', '2001:db8::/32']);
    const from = (header: string) => proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': header }));
    expect(from('198.51.100.1')).toBe('198.51.100.1');
    // What the client wrote itself, left of what the proxy appended, is not believed.
    expect(from('203.0.113.66, 198.51.100.1')).toBe('198.51.100.1');
    // Through a chain of trusted proxies, to the first hop none of them is.
    expect(from('203.0.113.66, 198.51.100.1, 10.9.9.9, 2001:db8::7')).toBe('198.51.100.1');
    // Written with ports, brackets, upper case, as an IPv4-mapped address: one canonical form.
    expect(from('[2001:DB8:1::0:1]:4711')).toBe('2001:db8:1::1');
    expect(from('198.51.100.1:4711')).toBe('198.51.100.1');
    expect(from('::ffff:198.51.100.1')).toBe('198.51.100.1');
    expect(from('2001:0db9:0000:0000:0000:0000:0000:0001')).toBe('2001:db9::1');
    // A hop that cannot be read ends the reading at the trusted proxy that passed it on.
    expect(from('198.51.100.1, unknown, 10.0.0.2')).toBe('10.0.0.2');
    expect(from('not an address')).toBe('10.0.0.1');
    expect(from('')).toBe('10.0.0.1');
    // Every hop a trusted proxy: the first of them.
    expect(from('10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
    expect(proxies.clientAddress(request('10.0.0.1'))).toBe('10.0.0.1');
  });

  it('reads RFC 7239 Forwarded when told to, and then ignores X-Forwarded-For', () => {
    const proxies = trust(['10.0.0.0/8'], 'forwarded');
    const from = (headers: Record<string, string>) => proxies.clientAddress(request('10.0.0.1', headers));
    expect(from({ forwarded: 'for=198.51.100.1' })).toBe('198.51.100.1');
    expect(from({ forwarded: 'for=203.0.113.66, For="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1' })).toBe('2001:db8:cafe::17');
    expect(from({ forwarded: 'proto=https;for="198.51.100.1:80";host="a,b;c", for=10.0.0.9' })).toBe('198.51.100.1');
    expect(from({ forwarded: 'for=198.51.100.1, for=unknown' })).toBe('10.0.0.1');
    expect(from({ forwarded: 'for=198.51.100.1, for=_hidden, for=10.0.0.5' })).toBe('10.0.0.5');
    expect(from({ forwarded: 'for=198.51.100.1, proto=https' })).toBe('10.0.0.1');
    expect(from({ 'x-forwarded-for': '198.51.100.1' })).toBe('10.0.0.1');
    expect(trust(['10.0.0.0/8']).clientAddress(request('10.0.0.1', { forwarded: 'for=198.51.100.1' }))).toBe('10.0.0.1');
  });
});

describe('IP addresses', () => {
  it('read back what they write, for random addresses and ranges', () => {
    const seed = testSeed('ip-address');
    const random = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 16 }, () => (random() < 0.3 ? 0 : Math.floor(random() * 256)));
      if (random() < 0.3) bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
      const text = formatIp(bytes);
      expect(parseIp(text), `${text} (seed ${seed})`).toEqual(bytes);
      const prefix = Math.floor(random() * 129);
      const range = parseIpRange(`${text}/${text.includes(':') ? prefix : prefix % 33}`)!;
      expect(inRange(bytes, range), `${text} in ${formatIpRange(range)} (seed ${seed})`).toBe(true);
      expect(parseIpRange(formatIpRange(range)), formatIpRange(range)).toEqual(range);
    }
  });
});
