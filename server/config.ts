import type { ProxyHeader } from './http/client-address.js';
import type { Retention } from './history/retention.js';

/**
 * The server's settings: every one is a command-line flag and an environment variable
 * (see `cli.ts`), with the defaults below.
 */
export interface ServerConfig {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one. Default 1234. */
  readonly port: number;
  /**
   * Where documents are stored: `level`, a LevelDB store in `dataDir`, for one instance; or
   * `postgres`, the database at `postgresUrl`, which several instances can share. Default `level`,
   * or `postgres` when `postgresUrl` is set.
   */
  readonly store: 'level' | 'postgres';
  /** Directory of the LevelDB store. Default `./data`. */
  readonly dataDir: string;
  /** The PostgreSQL database of the `postgres` store, as a connection string. Default none. */
  readonly postgresUrl: string | null;
  /**
   * Milliseconds a statement of the `postgres` store may take; past it (a database or network
   * that stopped answering, a commit stuck on the server's disk) the store is unavailable until it
   * recovers on its own (see `PostgresStoreOptions.queryTimeoutMs`). Default 30 s.
   */
  readonly postgresQueryTimeoutMs: number;
  /**
   * Redis, which carries live updates and presence between instances sharing a PostgreSQL store
   * (see `bus/redis-bus.ts`); only with `store` postgres. Default none: one instance alone.
   */
  readonly redisUrl: string | null;
  /** Starts the name of every Redis channel the server uses, so deployments can share a Redis. Default `collab:`. */
  readonly redisPrefix: string;
  /** This instance's id on the bus, unique among the instances; null for a random one. Default null. */
  readonly instanceId: string | null;
  /** Sync every write batch to disk before it counts as stored. Default off. */
  readonly fsync: boolean;
  /** Largest WebSocket frame accepted, in bytes; a larger one closes the connection (1009). Default 4 MiB. */
  readonly maxMessageSize: number;
  /** Longest document name accepted, in characters. Default 256. */
  readonly maxNameLength: number;
  /** How long a room with no connections stays loaded, in milliseconds; at most `MAX_TIMER_MS`. Default 10 s. */
  readonly unloadGraceMs: number;
  /**
   * Interval of WebSocket pings, in milliseconds, from 100 to `MAX_TIMER_MS`; a peer that misses one
   * whole interval is dropped. Default 30 s.
   */
  readonly pingIntervalMs: number;
  /** Log length (updates) at which a document's log is compacted into its snapshot. Default 1000. */
  readonly compactAfter: number;
  /**
   * Least milliseconds between two LevelDB batches that index journaled appends: fewer, larger
   * batches, less work per update. Appends are durable once journaled, so it delays no delivery,
   * only the reload of a document written within the interval. Default 100.
   */
  readonly batchIntervalMs: number;
  /**
   * Secret that signs access tokens (HS256, at least 32 bytes); every WebSocket and document API
   * request then needs a token (see `auth/token.ts`). Null runs the server open. Default none.
   */
  readonly authSecret: string | null;
  /**
   * Origins (`https://app.example.com`) of the web pages that may open WebSockets, besides the
   * server's own origin; `*` allows every origin. Requests without an `Origin` header (not from a
   * browser) are not affected. Default: the server's own origin only.
   */
  readonly allowedOrigins: readonly string[];
  /**
   * Host names (`docs.example.com`) that requests may address besides `localhost` and IP
   * addresses, or `*` for any: a request for another name (a `Host` header a DNS rebinding attack
   * would send) is refused with 403 (see `http/host.ts`). Default: none.
   */
  readonly allowedHosts: readonly string[];
  /**
   * PEM certificate file (the chain after it) and its key file: the server then speaks HTTPS and
   * `wss://`, and reads both again on SIGHUP (see `tls.ts`). Both or neither. Default none.
   */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /**
   * Reverse proxies whose `proxyHeader` gives the client address, as canonical CIDR ranges
   * (`127.0.0.0/8`, `::1/128`); from any other peer the header is ignored (see
   * `http/client-address.ts`). Default none: the client address is the socket's.
   */
  readonly trustProxy: readonly string[];
  /** The header the trusted proxies set: `x-forwarded-for` or `forwarded` (RFC 7239). Default `x-forwarded-for`. */
  readonly proxyHeader: ProxyHeader;
  /** Largest encoded size a document may grow to, in bytes; an update past it is refused. Default 32 MiB. */
  readonly maxDocumentSize: number;
  /**
   * Open WebSockets one client address may hold, and TCP sockets of any kind 64 more; 0 for no
   * limit. Default 256.
   */
  readonly maxConnectionsPerAddress: number;
  /**
   * Sockets (TCP connections of any kind) the process may hold at once; past it new ones are
   * refused as they arrive. 0: from the descriptor limit, keeping a share for the store (see
   * `descriptors.ts`). Default 0.
   */
  readonly maxSockets: number;
  /**
   * Milliseconds a connection may take to send its request headers, to be upgraded, and, once a
   * WebSocket, to send its first message; past it, it is closed. Default 10 s.
   */
  readonly handshakeTimeoutMs: number;
  /** Milliseconds a message may take to arrive in full once its first byte has; past it the connection is closed (1008). Default 10 s. */
  readonly messageTimeoutMs: number;
  /**
   * Bytes of unfinished incoming messages all connections together may hold; past it, the
   * connections holding the most are closed (1013). Default 256 MiB.
   */
  readonly maxInputBuffer: number;
  /** Frames per second one connection may send (every kind of frame counts), with bursts of twice that; 0 for no limit. Default 500. */
  readonly maxMessageRate: number;
  /** Agree to permessage-deflate when a client offers it (browsers do): large messages go compressed. Default on. */
  readonly compression: boolean;
  /**
   * Longest one update may take to apply, in milliseconds, plus 1 ms per KiB of it: a longer one is
   * refused, its sender closed (1008), and the document reloaded (see `sync/update-time.ts`). 0 for
   * no limit. Default 250.
   */
  readonly maxUpdateMs: number;
  /**
   * Milliseconds per second that the updates of one client address may take to apply, with bursts
   * of 8 times that; past it, its updates are refused and their connections closed (1013) until it
   * has earned time back. 0 for no limit. Default 250.
   */
  readonly updateTimePerAddress: number;
  /** Documents loaded at once; a connection to one more is refused (503). 0 for no limit. Default 1000. */
  readonly maxRooms: number;
  /**
   * Unsent bytes a connection may hold, besides the document state it is being sent; a client that
   * reads slower than its document changes is closed (1013) past it. Default 4 MiB.
   */
  readonly maxSendBuffer: number;
  /**
   * A document edited here gets a version once it has been quiet this long, in milliseconds (see
   * `history/history.ts`); 0 takes no versions automatically. Default 5 minutes.
   */
  readonly versionQuietMs: number;
  /** ...and, while edits go on, at the latest this long after the first edit since its last version. Default 30 minutes. */
  readonly versionIntervalMs: number;
  /** How many automatic versions a document keeps, and for how long; named ones are kept. Default the last 100, none older than 30 days. */
  readonly keepVersions: Retention;
  /**
   * Bearer token that `/metrics` asks for (`Authorization: Bearer <token>`) wherever it is served,
   * at least 16 characters; null asks for none. With `authSecret`, `/metrics` is served on `port`
   * only with it (see `metrics/access.ts`). Default none.
   */
  readonly metricsToken: string | null;
  /**
   * Port of 127.0.0.1 that serves `/metrics`, `/readyz` and `/healthz` and nothing else, from
   * before the server is ready until it has drained. 0 picks a free one; null: no metrics port.
   * Default none.
   */
  readonly metricsPort: number | null;
  /**
   * URLs (http or https) that get a signed POST for every document created, updated (debounced)
   * and deleted, at least once (see `webhooks/webhooks.ts`). Default none.
   */
  readonly webhookUrls: readonly string[];
  /** Key of the webhooks' HMAC-SHA256 signatures; required with `webhookUrls`. Default none. */
  readonly webhookSecret: string | null;
  /** pino level: fatal, error, warn, info, debug, trace or silent. Default `info`. */
  readonly logLevel: string;
  /** `pretty` for people, `json` for machines. Default: pretty when stdout is a terminal. */
  readonly logFormat: 'json' | 'pretty';
}

/**
 * The longest delay a Node.js timer keeps, 2^31 - 1 ms (about 24.8 days): a longer one fires after
 * 1 ms instead. Every option in milliseconds that ends up in a timer is at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Every option's default, as `--help` and the README give them. */
export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 1234,
  store: 'level',
  dataDir: './data',
  postgresUrl: null,
  postgresQueryTimeoutMs: 30_000,
  redisUrl: null,
  redisPrefix: 'collab:',
  instanceId: null,
  fsync: false,
  maxMessageSize: 4 * 1024 * 1024,
  maxNameLength: 256,
  unloadGraceMs: 10_000,
  pingIntervalMs: 30_000,
  compactAfter: 1000,
  batchIntervalMs: 100,
  authSecret: null,
  allowedOrigins: [],
  allowedHosts: [],
  tlsCert: null,
  tlsKey: null,
  trustProxy: [],
  proxyHeader: 'x-forwarded-for',
  maxDocumentSize: 32 * 1024 * 1024,
  maxConnectionsPerAddress: 256,
  maxSockets: 0,
  handshakeTimeoutMs: 10_000,
  messageTimeoutMs: 10_000,
  maxInputBuffer: 256 * 1024 * 1024,
  maxMessageRate: 500,
  compression: true,
  maxUpdateMs: 250,
  updateTimePerAddress: 250,
  maxRooms: 1000,
  maxSendBuffer: 4 * 1024 * 1024,
  versionQuietMs: 5 * 60_000,
  versionIntervalMs: 30 * 60_000,
  keepVersions: { count: 100, maxAgeMs: 30 * 86_400_000 },
  metricsToken: null,
  metricsPort: null,
  webhookUrls: [],
  webhookSecret: null,
  logLevel: 'info',
  logFormat: process.stdout.isTTY ? 'pretty' : 'json',
};
