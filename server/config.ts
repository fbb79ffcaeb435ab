/**
 * The server's settings: every one is a command-line flag and an environment variable
 * (see `cli.ts`), with the defaults below.
 */
export interface ServerConfig {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one. Default 1234. */
  readonly port: number;
  /** Directory of the LevelDB store. Default `./data`. */
  readonly dataDir: string;
  /** Sync every write batch to disk before it counts as stored. Default off. */
  readonly fsync: boolean;
  /** Largest WebSocket frame accepted, in bytes; a larger one closes the connection (1009). Default 4 MiB. */
  readonly maxMessageSize: number;
  /** Longest document name accepted, in characters. Default 256. */
  readonly maxNameLength: number;
  /** How long a room with no connections stays loaded, in milliseconds. Default 10 s. */
  readonly unloadGraceMs: number;
  /** Interval of WebSocket pings; a peer that misses one whole interval is dropped. Default 30 s. */
  readonly pingIntervalMs: number;
  /** Log length (updates) at which a document's log is folded into its snapshot. Default 1000. */
  readonly compactAfter: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. Default `info`. */
  readonly logLevel: string;
  /** `pretty` for people, `json` for machines. Default: pretty when stdout is a terminal. */
  readonly logFormat: 'json' | 'pretty';
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 1234,
  dataDir: './data',
  fsync: false,
  maxMessageSize: 4 * 1024 * 1024,
  maxNameLength: 256,
  unloadGraceMs: 10_000,
  pingIntervalMs: 30_000,
  compactAfter: 1000,
  logLevel: 'info',
  logFormat: process.stdout.isTTY ? 'pretty' : 'json',
};
