/**
 * The options of the command line: each flag, its environment variable, its default as `--help`
 * shows it, and the parser of its value (`cli-values.ts`). `cli.ts` reads them into a config. The
 * order here is the order of `--help`.
 */
import { Command, Option } from 'commander';
import { MIN_SECRET_BYTES } from './auth/token.js';
import {
  MIN_METRICS_TOKEN_LENGTH,
  bytes,
  duration,
  flag,
  hosts,
  instanceId,
  integer,
  metricsToken,
  milliseconds,
  origins,
  postgresUrl,
  redisPrefix,
  redisUrl,
  refuseBlank,
  retention,
  secret,
  trustedProxies,
  webhookUrls,
} from './cli-values.js';
import { DEFAULT_CONFIG } from './config.js';

/** Builds the program; `parseConfig` (`cli.ts`) runs it. */
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
        '--postgres-query-timeout <duration>',
        'longest a PostgreSQL statement may take (ms, or 30s, 2m): past it, or when the database stops answering, the store refuses writes, nothing unstored is acknowledged, and it recovers on its own',
      )
        .env('POSTGRES_QUERY_TIMEOUT')
        .default(d.postgresQueryTimeoutMs, '30s')
        .argParser(duration(100)),
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
