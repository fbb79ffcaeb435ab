/**
 * The command line parsed into a `ServerConfig`: the options of `cli-options.ts`, renamed to the
 * config's units and checked against each other. A flag wins over its environment variable, which
 * wins over the default.
 */
import { createProgram } from './cli-options.js';
import { DEFAULT_CONFIG, type ServerConfig } from './config.js';

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
    postgresQueryTimeout,
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
      | 'postgresQueryTimeoutMs'
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
      postgresQueryTimeout: number;
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
    postgresQueryTimeoutMs: postgresQueryTimeout,
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
