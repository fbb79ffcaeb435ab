/**
 * The values of the command line's options: each parser takes the text of a flag or environment
 * variable and returns the value, or throws `InvalidArgumentError` saying what was expected.
 */
import { InvalidArgumentError, type Option } from 'commander';
import { MIN_SECRET_BYTES } from './auth/token.js';
import { checkRedisUrl, redactUrl } from './bus/redis-url.js';
import { MAX_TIMER_MS } from './config.js';
import { parseRetention, type Retention } from './history/retention.js';
import { parseTrustedProxy } from './http/client-address.js';
import { hostname } from './http/host.js';

/**
 * A whole number in plain decimal digits (blanks around it allowed, as for sizes): `1e3`, `0x10`,
 * `5.0`, `-0`, `+5` and `Infinity` are refused rather than read the way `Number()` reads them.
 */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER, unit = '') {
  return (value: string): number => {
    const digits = value.trim();
    const parsed = /^\d+$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}${unit}, got "${value}"`);
    }
    return parsed;
  };
}

/** Milliseconds that end up in a timer: a delay past `MAX_TIMER_MS` would fire after 1 ms. */
export function milliseconds(min: number, max = MAX_TIMER_MS) {
  return integer(min, max, max === MAX_TIMER_MS ? ' ms (about 24.8 days, the longest delay of a Node.js timer)' : ' ms');
}

/** A duration in milliseconds, or with a unit (`90s`, `5m`, `1h`), at most `MAX_TIMER_MS`. */
export function duration(min: number) {
  return (value: string): number => {
    const match = /^(\d+)\s*(ms|s|m|h)?$/.exec(value.trim());
    const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match?.[2] ?? 'ms'] ?? 1;
    const ms = match ? Number(match[1]) * scale : NaN;
    if (!Number.isSafeInteger(ms) || ms < min || ms > MAX_TIMER_MS) {
      throw new InvalidArgumentError(`expected a duration such as 300000 (ms), 90s, 5m or 1h, from ${min} ms to about 24.8 days, got "${value}"`);
    }
    return ms;
  };
}

export function retention(value: string): Retention {
  try {
    return parseRetention(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

export function bytes(value: string): number {
  const match = /^(\d+)\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?$/i.exec(value.trim());
  const unit = (match?.[2] ?? 'b').toLowerCase()[0];
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const size = match ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(size)) throw new InvalidArgumentError(`expected a size such as 4194304, 512KiB or 4MiB, got "${value}"`);
  if (size < 1024) throw new InvalidArgumentError(`a size of at least 1KiB is needed, got "${value}"`);
  return size;
}

export function flag(value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value.trim())) return true;
  if (/^(0|false|no|off)$/i.test(value.trim())) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}

/** Shorter metrics tokens are refused: a scraper's token is set once, so it may as well be long. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export function metricsToken(value: string): string {
  if (value.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(value)) {
    throw new InvalidArgumentError(`the metrics token must be at least ${MIN_METRICS_TOKEN_LENGTH} characters, without blanks (try: openssl rand -hex 24)`);
  }
  return value;
}

export function secret(value: string): string {
  if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(`the secret must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 48)`);
  }
  return value;
}

/**
 * A comma-separated list, each entry (blanks around it dropped) `*` or what `parse` makes of it;
 * `parse` returns null to refuse an entry, and `example` says what is expected.
 */
export function commaList(value: string, example: string, parse: (entry: string) => string | null): string[] {
  const list = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const parsed = entry === '*' ? entry : parse(entry);
      if (parsed === null) throw new InvalidArgumentError(`expected ${example} or *, got "${entry}"`);
      return parsed;
    });
  if (list.length === 0) throw new InvalidArgumentError(`expected ${example} or *, got "${value}"`);
  return list;
}

/** A comma-separated list of origins (`scheme://host[:port]`) or `*`, normalized as browsers send them. */
export function origins(value: string): string[] {
  return commaList(value, 'origins such as https://app.example.com (scheme, host, optional port)', (entry) => {
    const url = URL.canParse(entry) ? new URL(entry) : null;
    if (url === null || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) return null;
    return url.origin;
  });
}

/** A comma-separated list of host names (`docs.example.com`, no scheme or port) or `*`, in lower case. */
export function hosts(value: string): string[] {
  return commaList(value, 'host names such as docs.example.com (no scheme, no port)', (entry) => {
    const name = hostname(entry);
    return name !== null && name === entry.toLowerCase().replace(/\.$/, '') ? name : null;
  });
}

/**
 * A comma-separated list of IP addresses, CIDR ranges or `loopback`, as canonical ranges. No `*`:
 * a client of an address trusted as a proxy can choose the address it is counted for.
 */
export function trustedProxies(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const ranges = entries.flatMap((entry) => {
    const parsed = parseTrustedProxy(entry);
    if (parsed === null) {
      throw new InvalidArgumentError(`expected IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8, or loopback, got "${entry}"`);
    }
    return parsed;
  });
  if (ranges.length === 0) throw new InvalidArgumentError(`expected IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8, or loopback, got "${value}"`);
  return [...new Set(ranges)];
}

export function postgresUrl(value: string): string {
  if (!/^postgres(ql)?:\/\/./.test(value.trim())) {
    throw new InvalidArgumentError(
      `expected a connection string such as postgres://user:password@host:5432/database (a unix socket: postgres://user@/database?host=/run/postgresql), got "${redactUrl(value)}"`,
    );
  }
  return value.trim();
}

export function redisUrl(value: string): string {
  try {
    checkRedisUrl(value.trim());
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value.trim();
}

export function instanceId(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new InvalidArgumentError(`expected 1 to 64 letters, digits, dots, dashes or underscores, got "${value}"`);
  return value;
}

export function redisPrefix(value: string): string {
  if (value.length > 64 || /\s/.test(value)) throw new InvalidArgumentError(`expected at most 64 characters and no blanks, got "${value}"`);
  return value;
}

/**
 * Webhook URLs, comma-separated, added to those of the flag given before (the flag repeats): http
 * or https, without credentials (fetch refuses them: a token goes in the path or query) or a fragment.
 */
export function webhookUrls(value: string, previous: readonly string[]): string[] {
  const urls = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  for (const entry of urls) {
    const url = URL.canParse(entry) ? new URL(entry) : null;
    if (url === null || !/^https?:$/.test(url.protocol) || url.username || url.password || url.hash) {
      throw new InvalidArgumentError(`expected http(s) URLs without credentials or a #fragment, such as https://hooks.example.com/collab, got "${entry}"`);
    }
  }
  if (urls.length === 0) throw new InvalidArgumentError(`expected http(s) URLs, got "${value}"`);
  return [...previous, ...urls];
}

/**
 * Makes `option` refuse an empty or blank value, from its flag or its environment variable alike:
 * `MAX_ROOMS=` left in a deployment file is a slip, and read as a number it would be 0, which
 * turns the limit off; `HOST=` would listen on every interface.
 */
export function refuseBlank(option: Option): void {
  const parse = option.parseArg;
  const unset = option.envVar === undefined ? '' : ` and unset ${option.envVar}`;
  option.argParser((value: string, previous: unknown) => {
    if (value.trim() === '') {
      throw new InvalidArgumentError(`an empty value is not allowed; for the default, leave out ${option.long}${unset}`);
    }
    return parse === undefined ? value : parse(value, previous);
  });
}
