#!/usr/bin/env node
/**
 * The server process: parse the command line, read the TLS certificate if any, open the store
 * and the bus (`backends.ts`), serve, and on SIGINT or SIGTERM drain every pending write, then
 * close the bus and the store, before exiting (on SIGHUP, reload the TLS certificate, if any, and
 * never stop).
 */
import { StoreOpenError, StoreUnavailableError } from '../persistence/document-store.js';
import { createCollabServer } from './app.js';
import { openBackends } from './backends.js';
import { type DescriptorBudget, planDescriptors } from './descriptors.js';
import { parseConfig } from './cli.js';
import { createLogger } from './logger.js';
import { type Certificate, ignoreHangup, logCertificate, readCertificate, reloadOnHangup, type TlsFiles } from './tls.js';
import { VERSION } from './version.js';
import { capYoungGeneration } from './young-generation.js';

// The export and import commands bring what converting content needs: loaded only for them.
if (process.argv[2] === 'export' || process.argv[2] === 'import') {
  const { runDocumentsCommand } = await import('./documents-command.js');
  process.exit(await runDocumentsCommand(process.argv));
}
if (process.argv[2] === 'backup' || process.argv[2] === 'restore') {
  const { runBackupCommand } = await import('./backup/backup-command.js');
  process.exit(await runBackupCommand(process.argv));
}

const config = parseConfig(process.argv, VERSION);
/** A signal repeated within this many ms is the same one, delivered twice (see `stop`). */
const REPEATED_SIGNAL_MS = 1000;
const logger = createLogger(config);

async function main(): Promise<void> {
  // Read first: a certificate that cannot be used stops the start before the store is opened.
  const tlsFiles: TlsFiles | null = config.tlsCert !== null && config.tlsKey !== null ? { certFile: config.tlsCert, keyFile: config.tlsKey } : null;
  let tls: Certificate | undefined;
  if (tlsFiles !== null) {
    tls = await readCertificate(tlsFiles);
    logCertificate(logger, tls, `TLS certificate from ${tlsFiles.certFile}`);
  }
  capYoungGeneration();
  const descriptors = planDescriptors();
  const maxSockets = config.maxSockets === 0 ? descriptors.sockets : config.maxSockets;
  logger.info(
    { descriptors: { soft: descriptors.soft, hard: descriptors.hard, before: descriptors.before }, maxSockets, storeFiles: descriptors.storeFiles },
    `file descriptors: ${describeDescriptors(descriptors)}; at most ${maxSockets || 'unlimited'} sockets`,
  );
  if (descriptors.notRaised !== null) logger.warn({ reason: descriptors.notRaised }, 'could not raise the descriptor limit');
  const backends = await openBackends(config, logger, descriptors.storeFiles);
  const server = createCollabServer({ ...config, maxSockets }, backends.store, logger, {
    bus: backends.bus,
    ...(tls === undefined ? {} : { tls }),
    ...(backends.journalBytes === undefined ? {} : { journalBytes: backends.journalBytes }),
  });

  let stopping: { signal: NodeJS.Signals; at: number } | null = null;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping !== null) {
      // One Ctrl-C under `npm start` arrives twice: from the terminal, and forwarded by npm.
      if (signal === stopping.signal && performance.now() - stopping.at < REPEATED_SIGNAL_MS) return;
      logger.warn(`${signal} again: still draining writes, please wait`);
      return;
    }
    stopping = { signal, at: performance.now() };
    logger.info(`${signal}: stopping; draining pending writes`);
    server
      .close()
      .then(() => backends.close())
      .then(
        () => {
          logger.info('stopped; every write is stored');
          process.exit(0);
        },
        (error: unknown) => {
          const unavailable = error instanceof StoreUnavailableError;
          logger.fatal(
            { err: error },
            unavailable
              ? 'stopped while the store was unavailable: what was acknowledged is stored (in the journal or the database), and the next start has it'
              : 'could not drain pending writes',
          );
          process.exit(1);
        },
      );
  };
  // Handlers first: a signal that arrives once we have said we listen must drain, not kill.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (tlsFiles !== null) reloadOnHangup(tlsFiles, (certificate) => server.setCertificate(certificate), logger);
  else ignoreHangup(logger);

  const address = await server.listen();
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${server.tls ? 'https' : 'http'}://${host}:${address.port}`;
  const sockets = server.tls ? ` and wss://${host}:${address.port}/ws/` : '';
  logger.info({ url, port: address.port, version: VERSION, ...backends.fields }, `listening on ${url}${sockets}, ${backends.where} (collab-server ${VERSION})`);
  if (config.trustProxy.length > 0) {
    logger.info(
      { trustProxy: config.trustProxy, proxyHeader: config.proxyHeader },
      `client addresses from ${config.proxyHeader} when the peer is a trusted proxy: ${config.trustProxy.join(', ')}`,
    );
  }
  const loopback = /^(127\.|::1$|::ffff:127\.)/.test(address.address);
  if (!loopback && config.allowedHosts.length === 0) {
    logger.warn(
      { allowedHosts: 'localhost and IP addresses' },
      'requests are served for localhost and IP addresses only: list the names this server is reached by in --allowed-hosts (ALLOWED_HOSTS)',
    );
  }
  if (config.authSecret === null) {
    logger.warn({ auth: 'open' }, 'no --auth-secret (AUTH_SECRET) is set: the server is open, anyone who can reach it may read and write every document');
  }
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, `could not start: ${reasonOf(error)}`);
  process.exit(1);
});

/**
 * What went wrong, in one line. A library's error may say only what failed and keep why in its
 * causes (LevelDB: "Database failed to open", caused by "IO error: …/LOCK: Permission denied"), so
 * their messages follow; a `StoreOpenError` already says it all in its own words.
 */
function reasonOf(error: unknown): string {
  const messages: string[] = [];
  for (let current: unknown = error; current !== undefined && messages.length < 4; ) {
    const message = current instanceof Error ? current.message : String(current);
    if (!messages.some((earlier) => earlier.includes(message))) messages.push(message);
    current = current instanceof Error && !(current instanceof StoreOpenError) ? current.cause : undefined;
  }
  return messages.join(': ');
}

/** The descriptor limits in a few words, for the start log. */
function describeDescriptors({ before, soft, hard }: DescriptorBudget): string {
  if (soft === null) return 'limit unknown';
  const raised = before !== null && before !== soft ? ` (raised from ${before})` : '';
  return `soft limit ${soft}${raised}, hard limit ${hard}`;
}
