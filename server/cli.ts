/**
 * The command line: flags, their environment variables and defaults, parsed into a `ServerConfig`.
 * A flag wins over its environment variable, which wins over the default.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MIN_SECRET_BYTES } from './auth/token.js';
import { DEFAULT_CONFIG, MAX_TIMER_MS, type ServerConfig } from './config.js';
import { parseTrustedProxy } from './http/client-address.js';
import { parseRetention, type Retention } from './history/retention.js';
import { hostname } from './http/host.js';
import { checkRedisUrl, redactUrl } from './bus/redis-url.js';

/**
 * A whole number in plain decimal digits (blanks around it allowed, as for sizes): `1e3`, `0x10`,
 * `5.0`, `-0`, `+5` and `Infinity` are refused rather than read the way `Number()` reads them.
 */
function integer(min: number, max = Number.MAX_SAFE_INTEGER, unit = '') {
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
function milliseconds(min: number, max = MAX_TIMER_MS) {
  return integer(min, max, max === MAX_TIMER_MS ? ' ms (about 24.8 days, the longest delay of a Node.js timer)' : ' ms');
}

/** A duration in milliseconds, or with a unit (`90s`, `5m`, `1h`), at most `MAX_TIMER_MS`. */
function duration(min: number) {
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

function retention(value: string): Retention {
  try {
    return parseRetention(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

function bytes(value: string): number {
  const match = /^(\d+)\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?$/i.exec(value.trim());
  const unit = (match?.[2] ?? 'b').toLowerCase()[0];
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const size = match ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(size)) throw new InvalidArgumentError(`expected a size such as 4194304, 512KiB or 4MiB, got "${value}"`);
  if (size < 1024) throw new InvalidArgumentError(`a size of at least 1KiB is needed, got "${value}"`);
  return size;
}

function flag(value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value.trim())) return true;
  if (/^(0|false|no|off)$/i.test(value.trim())) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}

/** Shorter metrics tokens are refused: a scraper's token is set once, so it may as well be long. */
const MIN_METRICS_TOKEN_LENGTH = 16;

function metricsToken(value: string): string {
  if (value.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(value)) {
    throw new InvalidArgumentError(`the metrics token must be at least ${MIN_METRICS_TOKEN_LENGTH} characters, without blanks (try: openssl rand -hex 24)`);
  }
  return value;
}

function secret(value: string): string {
  if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(`the secret must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 48)`);
  }
  return value;
}

/**
 * A comma-separated list, each entry (blanks around it dropped) `*` or what `parse` makes of it;
 * `parse` returns null to refuse an entry, and `example` says what is expected.
 */
function commaList(value: string, example: string, parse: (entry: string) => string | null): string[] {
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
function origins(value: string): string[] {
  return commaList(value, 'origins such as https://app.example.com (scheme, host, optional port)', (entry) => {
    const url = URL.canParse(entry) ? new URL(entry) : null;
    if (url === null || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) return null;
    return url.origin;
  });
}

/** A comma-separated list of host names (`docs.example.com`, no scheme or port) or `*`, in lower case. */
function hosts(value: string): string[] {
  return commaList(value, 'host names such as docs.example.com (no scheme, no port)', (entry) => {
    const name = hostname(entry);
    return name !== null && name === entry.toLowerCase().replace(/\.$/, '') ? name : null;
  });
}

/**
 * A comma-separated list of IP addresses, CIDR ranges or `loopback`, as canonical ranges. No `*`:
 * a client of an address trusted as a proxy can choose the address it is counted for.
 */
function trustedProxies(value: string): string[] {
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

function postgresUrl(value: string): string {
  if (!/^postgres(ql)?:\/\/./.test(value.trim())) {
    throw new InvalidArgumentError(
      `expected a connection string such as postgres://user:password@host:5432/database (a unix socket: postgres://user@/database?host=/run/postgresql), got "${redactUrl(value)}"`,
    );
  }
  return value.trim();
}

function redisUrl(value: string): string {
  try {
    checkRedisUrl(value.trim());
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value.trim();
}

function instanceId(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new InvalidArgumentError(`expected 1 to 64 letters, digits, dots, dashes or underscores, got "${value}"`);
  return value;
}

function redisPrefix(value: string): string {
  if (value.length > 64 || /\s/.test(value)) throw new InvalidArgumentError(`expected at most 64 characters and no blanks, got "${value}"`);
  return value;
}

/**
 * Webhook URLs, comma-separated, added to those of the flag given before (the flag repeats): http
 * or https, without credentials (fetch refuses them: a token goes in the path or query) or a fragment.
 */
function webhookUrls(value: string, previous: readonly string[]): string[] {
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
function refuseBlank(option: Option): void {
  const parse = option.parseArg;
  const unset = option.envVar === undefined ? '' : ` and unset ${option.envVar}`;
  option.argParser((value: string, previous: unknown) => {
    if (value.trim() === '') {
      throw new InvalidArgumentError(`an empty value is not allowed; for the default, leave out ${option.long}${unset}`);
    }
    return parse === undefined ? value : parse(value, previous);
  });
}

/** Builds the program; `parseConfig` runs it. Exported so `--help` can be tested. */
export function createProgram(version: string): Command {
  const d = DEFAULT_CONFIG;
  const program = new Command('collab-server')
    .description(
      'A Yjs document server: y-websocket protocol over WebSocket, stored durably in LevelDB, or in PostgreSQL shared by several instances that Redis keeps in touch.',
    )
    .version(version)
    .addOption(new Option('--host <address>', 'interface to listen on').env('HOST').default(d.host))
    .addOption(new Option('--port <number>', 'port to listen on (0 picks a free one)').env('PORT').default(d.port).argParser(integer(0, 65535)))
    .addOption(
      new Option('--store <kind>', 'where documents are stored: level (LevelDB in --data-dir, one instance) or postgres (--postgres-url, shared by instances)')
        .env('STORE')
        .default(d.store, 'level, or postgres with --postgres-url')
        .choices(['level', 'postgres']),
    )
    .addOption(new Option('--data-dir <path>', 'directory of the LevelDB store').env('DATA_DIR').default(d.dataDir))
    .addOption(
      new Option(
        '--postgres-url <url>',
        'PostgreSQL database of the postgres store (postgres://user:password@host:5432/db); implies --store postgres. It must run with fsync and synchronous_commit on',
      )
        .env('POSTGRES_URL')
        .argParser(postgresUrl),
    )
    .addOption(
      new Option(
        '--redis-url <url>',
        'Redis that carries live updates and presence between instances sharing --postgres-url (redis://host:6379, rediss://, unix:///path); it needs no persistence',
      )
        .env('REDIS_URL')
        .argParser(redisUrl),
    )
    .addOption(
      new Option('--redis-prefix <prefix>', 'start of every Redis channel name, so that deployments can share one Redis')
        .env('REDIS_PREFIX')
        .default(d.redisPrefix)
        .argParser(redisPrefix),
    )
    .addOption(
      new Option('--instance-id <id>', "this instance's id among those sharing Redis (letters, digits, . _ -)")
        .env('INSTANCE_ID')
        .default(d.instanceId, 'random')
        .argParser(instanceId),
    )
    .addOption(
      // An optional value rather than a bare flag, so FSYNC=false in the environment means false.
      new Option('--fsync [enabled]', 'sync each write batch to disk before acknowledging it (survives power loss, slower)')
        .env('FSYNC')
        .default(d.fsync)
        .preset('true')
        .argParser(flag),
    )
    .addOption(
      new Option('--max-message-size <bytes>', 'largest WebSocket message accepted (e.g. 4MiB); larger ones close the connection')
        .env('MAX_MESSAGE_SIZE')
        .default(d.maxMessageSize, '4MiB')
        .argParser(bytes),
    )
    .addOption(
      new Option('--max-name-length <chars>', 'longest document name accepted').env('MAX_NAME_LENGTH').default(d.maxNameLength).argParser(integer(1, 4096)),
    )
    .addOption(
      new Option('--unload-grace <ms>', 'how long a document with no connections stays in memory (at most 2147483647, about 24.8 days)')
        .env('UNLOAD_GRACE_MS')
        .default(d.unloadGraceMs)
        .argParser(milliseconds(0)),
    )
    .addOption(
      new Option('--ping-interval <ms>', 'WebSocket ping interval, from 100 to 2147483647 (about 24.8 days); a peer silent for a whole interval is dropped')
        .env('PING_INTERVAL_MS')
        .default(d.pingIntervalMs)
        .argParser(milliseconds(100)),
    )
    .addOption(
      new Option(
        '--batch-interval <ms>',
        'least time between two LevelDB batches indexing journaled updates (fewer, larger batches; updates are stored and delivered once journaled)',
      )
        .env('BATCH_INTERVAL_MS')
        .default(d.batchIntervalMs)
        .argParser(milliseconds(0, 1000)),
    )
    .addOption(
      new Option(
        '--compact-after <updates>',
        "compact a document's update log into its snapshot once it holds at most this many updates (each compaction at a random point from three quarters of it, so documents with the same traffic do not all compact at once)",
      )
        .env('COMPACT_AFTER')
        .default(d.compactAfter)
        .argParser(integer(1)),
    )
    .addOption(
      new Option(
        '--auth-secret <secret>',
        `secret (at least ${MIN_SECRET_BYTES} bytes) that signs access tokens; without it anyone may read and write every document`,
      )
        .env('AUTH_SECRET')
        .argParser(secret),
    )
    .addOption(
      new Option('--allowed-origins <origins>', "comma-separated origins of web pages that may connect besides the server's own, or * for any")
        .env('ALLOWED_ORIGINS')
        .default(d.allowedOrigins, 'same origin only')
        .argParser(origins),
    )
    .addOption(
      new Option(
        '--allowed-hosts <names>',
        'comma-separated host names this server is reached by (docs.example.com), besides localhost and IP addresses; requests for other names are refused (DNS rebinding), or * for any',
      )
        .env('ALLOWED_HOSTS')
        .default(d.allowedHosts, 'localhost and IP addresses only')
        .argParser(hosts),
    )
    .addOption(
      new Option('--tls-cert <file>', 'PEM certificate (followed by its chain) to serve HTTPS and wss:// with, besides --tls-key; SIGHUP reloads both').env(
        'TLS_CERT',
      ),
    )
    .addOption(new Option('--tls-key <file>', 'PEM private key of --tls-cert, unencrypted').env('TLS_KEY'))
    .addOption(
      new Option(
        '--trust-proxy <addresses>',
        'comma-separated addresses or CIDR ranges of reverse proxies (or loopback) whose --proxy-header gives the client address for limits and logs; from anyone else it is ignored',
      )
        .env('TRUST_PROXY')
        .default(d.trustProxy, 'none')
        .argParser(trustedProxies),
    )
    .addOption(
      new Option('--proxy-header <header>', 'the header the trusted proxies set the client address in: x-forwarded-for, or forwarded (RFC 7239)')
        .env('PROXY_HEADER')
        .default(d.proxyHeader)
        .choices(['x-forwarded-for', 'forwarded']),
    )
    .addOption(
      new Option('--max-document-size <bytes>', 'largest size a document may grow to; an update past it is refused')
        .env('MAX_DOCUMENT_SIZE')
        .default(d.maxDocumentSize, '32MiB')
        .argParser(bytes),
    )
    .addOption(
      new Option(
        '--max-connections-per-address <count>',
        'open WebSockets one client address may hold, and TCP sockets of any kind 64 more; past it new ones are refused (0: no limit)',
      )
        .env('MAX_CONNECTIONS_PER_ADDRESS')
        .default(d.maxConnectionsPerAddress)
        .argParser(integer(0)),
    )
    .addOption(
      new Option(
        '--max-sockets <count>',
        'TCP connections of any kind the process may hold; past it new ones are refused as they arrive (0: as many as the descriptor limit allows, keeping a share for the store)',
      )
        .env('MAX_SOCKETS')
        .default(d.maxSockets, 'from the descriptor limit')
        .argParser(integer(0)),
    )
    .addOption(
      new Option(
        '--handshake-timeout <ms>',
        "time a connection may take to send its request headers, to be upgraded, and to send a WebSocket's first message; past it, it is closed",
      )
        .env('HANDSHAKE_TIMEOUT_MS')
        .default(d.handshakeTimeoutMs)
        .argParser(milliseconds(100, 600_000)),
    )
    .addOption(
      new Option(
        '--message-timeout <ms>',
        'time a WebSocket message may take to arrive in full once its first byte has; past it the connection is closed (1008)',
      )
        .env('MESSAGE_TIMEOUT_MS')
        .default(d.messageTimeoutMs)
        .argParser(milliseconds(100, 600_000)),
    )
    .addOption(
      new Option(
        '--max-input-buffer <bytes>',
        'unfinished incoming messages all connections together may hold; past it, the connections holding the most are closed (1013)',
      )
        .env('MAX_INPUT_BUFFER')
        .default(d.maxInputBuffer, '256MiB')
        .argParser(bytes),
    )
    .addOption(
      new Option(
        '--max-message-rate <per-second>',
        'frames per second a connection may send (messages, fragments, pings and pongs alike), bursts of twice that (0: no limit)',
      )
        .env('MAX_MESSAGE_RATE')
        .default(d.maxMessageRate)
        .argParser(integer(0)),
    )
    .addOption(
      new Option('--compression [enabled]', 'compress large WebSocket messages (permessage-deflate) for clients that offer it, as browsers do')
        .env('COMPRESSION')
        .default(d.compression)
        .preset('true')
        .argParser(flag),
    )
    .addOption(
      new Option(
        '--max-update-ms <ms>',
        "longest one update may take to apply, plus 1 ms per KiB of it: a longer one (a forged update can make Yjs's placement scan quadratic) is refused, its sender closed and the document reloaded (0: no limit)",
      )
        .env('MAX_UPDATE_MS')
        .default(d.maxUpdateMs)
        .argParser(integer(0, 3_600_000, ' ms')),
    )
    .addOption(
      new Option(
        '--update-time-per-address <ms>',
        'milliseconds per second that the updates of one client address may take to apply, bursts of 8 times that; past it its updates are refused until it has earned time back (0: no limit)',
      )
        .env('UPDATE_TIME_PER_ADDRESS')
        .default(d.updateTimePerAddress)
        .argParser(integer(0, 1000, ' ms per second')),
    )
    .addOption(
      new Option('--max-rooms <count>', 'documents loaded at once; connections to more are refused with 503 (0: no limit)')
        .env('MAX_ROOMS')
        .default(d.maxRooms)
        .argParser(integer(0)),
    )
    .addOption(
      new Option('--max-send-buffer <bytes>', 'unsent data a connection may hold before it is closed as too slow')
        .env('MAX_SEND_BUFFER')
        .default(d.maxSendBuffer, '4MiB')
        .argParser(bytes),
    )
    .addOption(
      new Option(
        '--version-quiet <duration>',
        'take a version of a document once its edits have paused this long (ms, or 90s, 5m, 1h; 0: no automatic versions)',
      )
        .env('VERSION_QUIET')
        .default(d.versionQuietMs, '5m')
        .argParser(duration(0)),
    )
    .addOption(
      new Option('--version-interval <duration>', 'while edits go on, take a version at the latest this long after the first edit since the last one')
        .env('VERSION_INTERVAL')
        .default(d.versionIntervalMs, '30m')
        .argParser(duration(1000)),
    )
    .addOption(
      new Option(
        '--keep-versions <count,age>',
        'automatic versions each document keeps: a count (100), an age (30d, 12h) or both (100,30d); named versions are kept until deleted',
      )
        .env('KEEP_VERSIONS')
        .default(d.keepVersions, '100,30d')
        .argParser(retention),
    )
    .addOption(
      new Option(
        '--metrics-token <token>',
        `bearer token (at least ${MIN_METRICS_TOKEN_LENGTH} characters) that GET /metrics (Prometheus) asks for, on --port and --metrics-port; without it, /metrics on --port is open to anyone if --auth-secret is not set, and not served if it is`,
      )
        .env('METRICS_TOKEN')
        .argParser(metricsToken),
    )
    .addOption(
      new Option(
        '--metrics-port <number>',
        'also serve /metrics (Prometheus), /readyz and /healthz on this port of 127.0.0.1 (loopback only), for a local scraper; with --auth-secret and no --metrics-token, /metrics is served here only (0 picks a free port)',
      )
        .env('METRICS_PORT')
        .argParser(integer(0, 65535)),
    )
    .addOption(
      new Option(
        '--webhook-url <url>',
        'POST signed JSON to this URL when a document is created, updated (2 s after its changes pause, at most every 10 s) or deleted, retried for a day; repeat it, or comma-separate, for several',
      )
        .env('WEBHOOK_URL')
        .default(d.webhookUrls, 'none')
        .argParser(webhookUrls),
    )
    .addOption(
      new Option('--webhook-secret <secret>', `key (at least ${MIN_SECRET_BYTES} bytes) of the webhooks' HMAC-SHA256 signatures; required with --webhook-url`)
        .env('WEBHOOK_SECRET')
        .argParser(secret),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .env('LOG_LEVEL')
        .default(d.logLevel)
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    )
    .addOption(new Option('--log-format <format>', 'log format (default: pretty on a terminal, json otherwise)').env('LOG_FORMAT').choices(['json', 'pretty']))
    .addHelpText(
      'after',
      `
Commands besides serving:
  collab-server export <name> [--format markdown|html|json|text|yjs] [--output file] [--url URL | --data-dir DIR]
  collab-server import <name> <file> [--format markdown|html|json|yjs] [--url URL | --data-dir DIR]
  (each against a running server with --url, or a stopped server's data directory; see collab-server export --help)
  collab-server backup <file> --url URL [--token TOKEN] [--no-versions]
  (a consistent backup of a running server, every document and its versions, into one archive;
   the token needs "admin": true for every document; see collab-server backup --help)
  collab-server restore <file> --data-dir DIR
  (fills an absent or empty data directory from a backup; a bad archive changes nothing)`,
    )
    .showHelpAfterError();
  for (const option of program.options) if (option.required || option.optional) refuseBlank(option);
  return program;
}

/** Parses `argv` (as in `process.argv`) and the environment into a config. Exits on `--help` or a bad flag. */
export function parseConfig(argv: readonly string[], version: string): ServerConfig {
  const program = createProgram(version).parse([...argv]);
  // commander names each value after its flag; the config says the unit.
  const {
    unloadGrace,
    pingInterval,
    batchInterval,
    handshakeTimeout,
    messageTimeout,
    versionQuiet,
    versionInterval,
    logFormat,
    authSecret,
    tlsCert,
    tlsKey,
    metricsToken: givenMetricsToken,
    metricsPort,
    postgresUrl,
    redisUrl,
    webhookUrl,
    webhookSecret,
    ...options
  } = program.opts<
    Omit<
      ServerConfig,
      | 'logFormat'
      | 'unloadGraceMs'
      | 'pingIntervalMs'
      | 'batchIntervalMs'
      | 'handshakeTimeoutMs'
      | 'messageTimeoutMs'
      | 'versionQuietMs'
      | 'versionIntervalMs'
      | 'authSecret'
      | 'tlsCert'
      | 'tlsKey'
      | 'metricsToken'
      | 'metricsPort'
      | 'postgresUrl'
      | 'redisUrl'
      | 'webhookUrls'
      | 'webhookSecret'
    > & {
      unloadGrace: number;
      pingInterval: number;
      batchInterval: number;
      handshakeTimeout: number;
      messageTimeout: number;
      versionQuiet: number;
      versionInterval: number;
      logFormat?: ServerConfig['logFormat'];
      authSecret?: string;
      tlsCert?: string;
      tlsKey?: string;
      metricsToken?: string;
      metricsPort?: number;
      postgresUrl?: string;
      redisUrl?: string;
      webhookUrl: string[];
      webhookSecret?: string;
    }
  >();
  const store = program.getOptionValueSource('store') === 'default' && postgresUrl !== undefined ? 'postgres' : options.store;
  if (store === 'postgres' && postgresUrl === undefined)
    program.error('error: --store postgres needs --postgres-url (POSTGRES_URL): the database to store documents in');
  if (store === 'level' && postgresUrl !== undefined) {
    program.error('error: --postgres-url (POSTGRES_URL) is for the postgres store, and --store (STORE) says level: leave out one of them');
  }
  if (redisUrl !== undefined && store !== 'postgres') {
    program.error(
      'error: --redis-url (REDIS_URL) needs the postgres store (--postgres-url): instances share documents through PostgreSQL, and Redis only carries live updates between them',
    );
  }
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    program.error(
      `error: ${tlsCert === undefined ? '--tls-key' : '--tls-cert'} needs ${tlsCert === undefined ? '--tls-cert' : '--tls-key'}: give both (TLS_CERT, TLS_KEY), or neither`,
    );
  }
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === options.port) {
    program.error(`error: --metrics-port ${metricsPort} is the port of --port: give the metrics another one (or 0 for a free one)`);
  }
  if (webhookUrl.length > 0 && webhookSecret === undefined) {
    program.error('error: --webhook-url needs --webhook-secret (WEBHOOK_SECRET), the key its requests are signed with (try: openssl rand -base64 48)');
  }
  return {
    ...DEFAULT_CONFIG,
    ...options,
    unloadGraceMs: unloadGrace,
    pingIntervalMs: pingInterval,
    batchIntervalMs: batchInterval,
    handshakeTimeoutMs: handshakeTimeout,
    messageTimeoutMs: messageTimeout,
    versionQuietMs: versionQuiet,
    versionIntervalMs: versionInterval,
    logFormat: logFormat ?? DEFAULT_CONFIG.logFormat,
    // An empty AUTH_SECRET is a deployment mistake, not a wish to run open: refuseBlank refuses it.
    authSecret: authSecret ?? null,
    tlsCert: tlsCert ?? null,
    tlsKey: tlsKey ?? null,
    metricsToken: givenMetricsToken ?? null,
    metricsPort: metricsPort ?? null,
    store,
    postgresUrl: postgresUrl ?? null,
    redisUrl: redisUrl ?? null,
    webhookUrls: [...new Set(webhookUrl)],
    webhookSecret: webhookSecret ?? null,
  };
}
