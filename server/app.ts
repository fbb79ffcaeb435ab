/**
 * The server: a Hono app on @hono/node-server for HTTP, WebSockets admitted and opened by our
 * upgrade gate, the sync engine behind them and the store behind that.
 */
import { randomUUID } from 'node:crypto';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { DocumentStore } from '../persistence/document-store.js';
import { Access } from './auth/access.js';
import type { ServerConfig } from './config.js';
import { HttpError } from './errors.js';
import { AddressLimit } from './http/address-limit.js';
import { checkAccess, createUpgradeCheck, WS_PREFIX } from './http/admission.js';
import { type AddressedRequest, ProxyTrust } from './http/client-address.js';
import { backupRoutes } from './http/backup.js';
import { editorRoutes, pageNotFound } from './http/editor.js';
import { documentRoutes } from './http/documents.js';
import { healthRoutes } from './http/health.js';
import { checkHost } from './http/host.js';
import { describeMetricsAccess } from './metrics/access.js';
import { MeasuredStore } from './metrics/measured-store.js';
import { MetricsListener } from './metrics/metrics-server.js';
import { ServerMetrics } from './metrics/metrics.js';
import { Readiness } from './metrics/readiness.js';
import { METRICS_PATHS, metricsRoutes } from './metrics/routes.js';
import { installUpgradeGate } from './websocket/upgrade.js';
import { InputLimits } from './websocket/input-limits.js';
import type { ReceiveLimits } from './websocket/receiver.js';
import { SocketCounters } from './websocket/socket-counters.js';
import { ServerWebSocket } from './websocket/websocket.js';
import type { Logger } from './logger.js';
import { type DocumentBus, LocalBus } from './sync/bus.js';
import { SyncEngine } from './sync/engine.js';
import type { Certificate } from './tls.js';
import { Webhooks } from './webhooks/webhooks.js';

/** A server built by `createCollabServer`: the HTTP server, the app and the engine behind it. */
export interface CollabServer {
  readonly app: Hono;
  readonly engine: SyncEngine;
  readonly httpServer: Server;
  /** Whether it speaks HTTPS and `wss://` (it was given a certificate). */
  readonly tls: boolean;
  /** Presents `certificate` to new TLS handshakes from now on; open connections keep theirs. Throws without TLS. */
  setCertificate(certificate: Certificate): void;
  /** The server's metrics (see `metrics/metrics.ts`). */
  readonly metrics: ServerMetrics;
  /** Where the metrics port listens, once `listen` resolved; null without one (`metricsPort`). */
  readonly metricsAddress: AddressInfo | null;
  /** Starts listening (the metrics port first, if any); resolves with the bound address. Ready (`/readyz`) from then on. */
  listen(): Promise<AddressInfo>;
  /**
   * Stops accepting, closes every connection, drains every pending write and compacts every room.
   * Not ready from its call on; the metrics port closes last. The store is left open: its owner closes it.
   */
  close(): Promise<void>;
}

/** What a server is built on besides its configuration. */
export interface ServerParts {
  /** Where other instances' stored updates and presence come from; by default none (`LocalBus`). */
  readonly bus?: DocumentBus;
  /** A certificate (read and checked by `readCertificate`): the server then speaks HTTPS and `wss://`. Default: plain HTTP. */
  readonly tls?: Certificate;
  /** Bytes the store's journal holds, for the metrics (`LevelDocumentStore.journalBytes`); absent for a store without one. */
  readonly journalBytes?: () => number;
}

/** Builds a server on `store` (which its owner opens and closes); it listens once `listen` is called. */
export function createCollabServer(config: ServerConfig, openStore: DocumentStore, logger: Logger, options: ServerParts = {}): CollabServer {
  const access = new Access(config.authSecret);
  // Metrics are always kept (they cost a few increments per update); `metrics/access.ts` says who reads them.
  const readiness = new Readiness(openStore);
  const sockets = new SocketCounters();
  const bus = options.bus ?? new LocalBus(randomUUID());
  const inputLimits = new InputLimits({
    maxBufferedBytes: config.maxInputBuffer,
    messageTimeoutMs: config.messageTimeoutMs,
    firstFrameTimeoutMs: config.handshakeTimeoutMs,
  });
  const metrics = new ServerMetrics({
    sockets,
    inputBytes: () => inputLimits.bufferedBytes,
    readiness,
    busHealth: () => bus.health(),
    ...(options.journalBytes === undefined ? {} : { journalBytes: options.journalBytes }),
  });
  const store = new MeasuredStore(openStore, metrics.storeObserver);
  // A PostgreSQL store may be shared by other instances: they hand webhook events over between them.
  const webhooks =
    config.webhookUrls.length > 0 && config.webhookSecret !== null
      ? new Webhooks(store, { urls: config.webhookUrls, secret: config.webhookSecret, logger, shared: config.store === 'postgres' })
      : null;
  const engine = new SyncEngine(store, bus, { ...config, logger, ...(webhooks === null ? {} : { events: webhooks }) });
  metrics.watch(engine);
  if (webhooks !== null) metrics.watchWebhooks(webhooks);
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      metrics.refused('request', error);
      logger.debug({ path: c.req.path, status: error.status, error: error.code }, `refused a request: ${error.message}`);
      return c.json(error.toJSON(), error.status);
    }
    logger.error({ err: error, path: c.req.path }, 'request failed');
    return c.json({ error: 'internal', message: 'internal server error' }, 500);
  });
  const notFoundPage = pageNotFound({ maxNameLength: config.maxNameLength });
  app.notFound((c) => notFoundPage(c) ?? c.json({ error: 'not-found', message: `nothing at ${c.req.path}` }, 404));
  // Every page and the API answer only for the names this server is known by (see http/host.ts);
  // the health and readiness checks and the metrics, which tell counts and no names, answer by any name.
  app.use('*', async (c, next) => {
    if (c.req.path !== '/healthz' && !METRICS_PATHS.has(c.req.path)) checkHost(c.req.header('host'), config.allowedHosts);
    await next();
  });
  const proxies = new ProxyTrust(config.trustProxy, config.proxyHeader);
  app.route(
    '/',
    healthRoutes(store, engine, () => bus.health()),
  );
  app.route('/', metricsRoutes({ metrics, readiness, config, place: 'main' }));
  const metricsPort =
    config.metricsPort === null
      ? null
      : new MetricsListener(
          [metricsRoutes({ metrics, readiness, config, place: 'metrics-port' }), healthRoutes(store, engine, () => bus.health())],
          config.metricsPort,
          logger,
          (refusal) => metrics.refused('request', refusal),
        );
  let metricsAddress: AddressInfo | null = null;
  const documentsApi = { store, engine, access, config, clientAddress: (request: AddressedRequest) => proxies.clientAddress(request) };
  app.route('/', documentRoutes(documentsApi));
  app.route('/', backupRoutes(documentsApi, logger));
  app.route('/', editorRoutes({ maxNameLength: config.maxNameLength }));

  // Upgrades never reach Hono (see http/upgrade.ts). A plain request here is told what an upgrade
  // would be told, 426 if it would be taken: a browser page cannot read a refused upgrade, so the
  // editor asks this way why its connection failed (a token that does not verify, an origin not
  // allowed), and any page may read the answer, which holds nothing the request did not send.
  app.get(`${WS_PREFIX}*`, async (c) => {
    c.header('access-control-allow-origin', '*');
    const { incoming } = c.env as { incoming: IncomingMessage };
    await checkAccess(config, access, incoming, incoming.headers);
    throw new HttpError(426, 'upgrade-required', 'this endpoint takes WebSocket connections (y-websocket protocol)');
  });

  // Request headers must come within the handshake timeout, checked a few times a second; a
  // socket that sends nothing goes then too, as does one that does not finish its TLS handshake.
  const serverOptions: ServerOptions = {
    headersTimeout: config.handshakeTimeoutMs,
    requestTimeout: Math.max(config.handshakeTimeoutMs, 300_000),
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.handshakeTimeoutMs / 4))),
  };
  const tls = options.tls;
  const httpServer = (
    tls === undefined
      ? createAdaptorServer({ fetch: app.fetch, serverOptions })
      : createAdaptorServer({
          fetch: app.fetch,
          createServer: createHttpsServer,
          serverOptions: { ...serverOptions, cert: tls.cert, key: tls.key, handshakeTimeout: config.handshakeTimeoutMs },
        })
  ) as Server;
  limitSockets(httpServer, config, logger);
  const addresses = new AddressLimit(config.maxConnectionsPerAddress, {
    exempt: (address) => proxies.trusts(address),
    // Before its TLS handshake a socket cannot be told why in HTTP: it is closed.
    ...(tls === undefined ? {} : { refuse: (socket: Socket) => socket.destroy() }),
  });
  if (tls !== undefined) {
    httpServer.on('tlsClientError', (error: Error, socket: Socket) =>
      logger.debug({ address: socket.remoteAddress, reason: error.message }, 'a TLS handshake failed'),
    );
  }
  // Counted before Node's HTTP handling sees the socket, so a refused one is never parsed.
  httpServer.prependListener('connection', (socket: Socket) => addresses.accept(socket));
  // What every WebSocket may send, and what unfinished input all of them together may hold.
  const receiving: ReceiveLimits = {
    maxPayload: config.maxMessageSize,
    maxFrameRate: config.maxMessageRate,
    refuseText: true,
    inputLimits,
  };
  installUpgradeGate(httpServer, {
    check: createUpgradeCheck(config, access, engine.rooms, addresses, proxies),
    compression: config.compression,
    timeoutMs: config.handshakeTimeoutMs,
    accept: (tcp, head, { ticket, releaseHold }, deflate) => {
      const socket = new ServerWebSocket(tcp, receiving, deflate, sockets);
      socket.start(engine.accept(socket, ticket, releaseHold), head);
    },
    onError: (error) => logger.error({ err: error }, 'upgrade check failed'),
    // The path without its query, which may hold a token.
    onRefused: (request, refusal) => {
      metrics.refused('upgrade', refusal);
      logger.debug(
        { address: proxies.clientAddress(request), path: (request.url ?? '').split('?')[0], status: refusal.status, error: refusal.code },
        `refused an upgrade: ${refusal.message}`,
      );
    },
  });

  return {
    app,
    engine,
    httpServer,
    tls: tls !== undefined,
    metrics,
    get metricsAddress() {
      return metricsAddress;
    },
    setCertificate(certificate) {
      if (tls === undefined) throw new Error('this server was started without TLS: it has no certificate to replace');
      (httpServer as HttpsServer).setSecureContext({ cert: certificate.cert, key: certificate.key });
    },
    async listen() {
      if (metricsPort !== null) metricsAddress = await metricsPort.listen();
      const address = await new Promise<AddressInfo>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          // An error of the listening socket (accept failing with no descriptors left, say) is
          // reported, not fatal: the server goes on with the connections it has.
          httpServer.on('error', (error) => logger.error({ err: error }, 'the server could not accept a connection'));
          resolve(httpServer.address() as AddressInfo);
        });
      });
      readiness.listened();
      const metricsUrl = metricsAddress === null ? null : `http://${metricsAddress.address}:${metricsAddress.port}/metrics`;
      const access = describeMetricsAccess(config, metricsUrl);
      if (access.closed) logger.warn({ metrics: 'not served' }, access.message);
      else logger.info({ metricsPort: metricsAddress?.port ?? null }, access.message);
      return address;
    },
    async close() {
      readiness.drain();
      try {
        httpServer.close();
        await engine.close();
        await webhooks?.close();
        httpServer.closeAllConnections();
      } finally {
        metricsPort?.close();
      }
    },
  };
}

/**
 * Holds the server to `config.maxSockets` TCP connections (Node refuses more as they arrive), and
 * says so in the log, at most once every ten seconds.
 */
function limitSockets(server: Server, config: Pick<ServerConfig, 'maxSockets'>, logger: Logger): void {
  if (config.maxSockets === 0) return;
  server.maxConnections = config.maxSockets;
  let lastSaid = Number.NEGATIVE_INFINITY;
  let dropped = 0;
  server.on('drop', () => {
    dropped++;
    const now = performance.now();
    if (now - lastSaid < 10_000) return;
    lastSaid = now;
    logger.warn(
      { maxSockets: config.maxSockets, dropped },
      `refused connections: ${config.maxSockets} sockets are open, the most this server takes (--max-sockets)`,
    );
    dropped = 0;
  });
}
