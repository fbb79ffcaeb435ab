/**
 * The server's metrics, in the Prometheus text format (prom-client). Every name starts with
 * `collab_`, the process's own too (memory, CPU, event-loop delay, garbage collection: prom-client's
 * defaults, as `collab_process_*` and `collab_nodejs_*`), so that one prefix finds all of them.
 *
 * What they cost: nothing proportional to a document, and no label per document (their number
 * would grow without bound). The hot paths increment plain numbers in place (`SyncCounters`,
 * `SocketCounters`, `DocumentHistory.taken`), which the counters here read when scraped; gauges
 * are read when scraped too. Only store writes, compactions and refusals call prom-client, once
 * each (a write holds every append of its turn of the event loop).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { HttpError } from '../errors.js';
import type { BusHealth } from '../sync/bus.js';
import type { SyncEngine } from '../sync/engine.js';
import type { SocketCounters } from '../websocket/socket-counters.js';
import type { DeliveryCounts } from '../webhooks/receiver.js';
import type { StoreObserver } from './measured-store.js';
import type { Readiness } from './readiness.js';

/** What the metrics read when scraped, besides the engine (see `ServerMetrics.watch`). */
export interface MetricsSources {
  readonly sockets: SocketCounters;
  readonly readiness: Readiness;
  /** Bytes the store's journal holds (the LevelDB store has one), read at each scrape; absent: no journal metric. */
  readonly journalBytes?: () => number;
  /** How the bus to other instances fares, read at each scrape. */
  readonly busHealth: () => BusHealth;
  /** Bytes all WebSockets together hold for messages not complete yet (`InputLimits.bufferedBytes`). */
  readonly inputBytes: () => number;
}

/** Where a refused HTTP request came: a WebSocket upgrade, or any other request. */
export type RefusalKind = 'upgrade' | 'request';

/** Seconds a store write takes: a journal write in the page cache takes well under a millisecond, a synced one or a database's a few. */
const WRITE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds a compaction takes to be written. */
const COMPACTION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What every metric's name starts with. */
const PREFIX = 'collab_';

/** How often the event loop's delay is sampled, in milliseconds. */
const EVENT_LOOP_SAMPLE_MS = 20;

/** The metrics of one server (see the top of this file). */
export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly refusals: Counter<'kind' | 'status' | 'code'>;
  /** What the store reports (see `MeasuredStore`). */
  readonly storeObserver: StoreObserver;

  /** Every metric but the engine's, which `watch` adds. */
  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const { sockets } = sources;
    this.gauge('collab_ready', '1 when the server is ready for traffic (/readyz answers 200), else 0.', () => (sources.readiness.state === 'ready' ? 1 : 0));
    if (sources.journalBytes !== undefined) {
      this.gauge('collab_journal_bytes', "Bytes in the store's journal: appends LevelDB has not indexed yet, and the files they are in.", sources.journalBytes);
    }
    this.gauge(
      'collab_websocket_input_held_bytes',
      'Bytes all WebSockets together hold for incoming messages not complete yet (at most --max-input-buffer).',
      sources.inputBytes,
    );
    this.gauge('collab_bus_connected', '1 while updates cross between instances (always, for a server that runs alone), 0 while the bus is down.', () =>
      sources.busHealth().problem === null ? 1 : 0,
    );
    this.counter(
      'collab_bus_messages_dropped_total',
      'Malformed messages heard on the bus from other instances, and dropped.',
      () => sources.busHealth().dropped,
    );
    const stored = new Counter({ name: 'collab_updates_stored_total', help: 'Updates the store has made durable.', registers });
    this.counter('collab_websocket_received_bytes_total', 'Bytes of WebSocket frames received (after the upgrade, before TLS).', () => sockets.bytesIn);
    this.counter('collab_websocket_sent_bytes_total', 'Bytes of WebSocket frames sent (after the upgrade, before TLS).', () => sockets.bytesOut);
    new Counter({
      name: 'collab_websocket_closes_total',
      help: 'WebSocket connections closed, by who closed (server, client, or none: dropped without a closing handshake) and close code.',
      labelNames: ['by', 'code'] as const,
      registers,
      collect() {
        this.reset();
        for (const { by, code, count } of sockets.closes.values()) this.inc({ by, code }, count);
      },
    });
    this.refusals = new Counter({
      name: 'collab_http_refusals_total',
      help: 'HTTP requests and WebSocket upgrades refused, by kind (upgrade or request), status and error code.',
      labelNames: ['kind', 'status', 'code'] as const,
      registers,
    });
    const writes = new Histogram({
      name: 'collab_store_write_seconds',
      help: 'Time from the first append of a store write to its being durable; one observation per write, which holds every update appended in the same turn.',
      buckets: WRITE_BUCKETS,
      registers,
    });
    const writeFailures = new Counter({
      name: 'collab_store_write_failures_total',
      help: 'Store writes that failed (their updates were not stored).',
      registers,
    });
    const compactions = new Counter({ name: 'collab_compactions_total', help: "Compactions of a document's update log into its snapshot.", registers });
    const compactionTime = new Histogram({
      name: 'collab_compaction_seconds',
      help: 'Time the store took to write a compaction (the encoding before it is not included).',
      buckets: COMPACTION_BUCKETS,
      registers,
    });
    const compactionFailures = new Counter({ name: 'collab_compaction_failures_total', help: 'Compactions that failed (the log is kept).', registers });
    // The event loop's delay is sampled every 20 ms: prom-client's 10 ms costs an idle server twice
    // the wake-ups, for a precision that no stall worth seeing needs.
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

    this.storeObserver = {
      written(updates, seconds) {
        stored.inc(updates);
        writes.observe(seconds);
      },
      writeFailed(_updates, seconds) {
        writeFailures.inc();
        writes.observe(seconds);
      },
      compacted(seconds) {
        compactions.inc();
        compactionTime.observe(seconds);
      },
      compactionFailed(seconds) {
        compactionFailures.inc();
        compactionTime.observe(seconds);
      },
    };
  }

  /** Adds the metrics of `engine`: connections, documents, updates, versions. Called once. */
  watch(engine: SyncEngine): void {
    this.gauge('collab_connections', 'Open WebSocket connections.', () => engine.connectionCount);
    this.gauge('collab_documents_loaded', 'Documents loaded in memory (rooms), with or without connections.', () => engine.rooms.size);
    this.counter(
      'collab_updates_received_total',
      'Update-bearing messages (sync step 2 and update) received from clients, over WebSocket or HTTP, stored or not.',
      () => engine.counters.updatesReceived,
    );
    this.counter(
      'collab_updates_broadcast_total',
      'Update messages sent to clients: each update counts once per client it was sent to.',
      () => engine.counters.updatesBroadcast,
    );
    new Counter({
      name: 'collab_versions_taken_total',
      help: 'Versions of documents taken, by kind (auto, named, before-restore, restore).',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [kind, count] of Object.entries(engine.history.taken)) this.inc({ kind }, count);
      },
    });
  }

  /** Adds the metrics of webhook deliveries. Called once, when webhooks are configured. */
  watchWebhooks(webhooks: { readonly pending: number; readonly counts: DeliveryCounts }): void {
    this.gauge('collab_webhook_events_pending', 'Webhook events queued in the store and not yet taken by their receiver.', () => webhooks.pending);
    new Counter({
      name: 'collab_webhook_deliveries_total',
      help: 'Webhook requests by outcome: delivered (2xx), failed (to be retried), given_up (after a day of retries).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const { delivered, failed, givenUp } = webhooks.counts;
        this.inc({ outcome: 'delivered' }, delivered);
        this.inc({ outcome: 'failed' }, failed);
        this.inc({ outcome: 'given_up' }, givenUp);
      },
    });
  }

  /** A gauge that reads its value when scraped. */
  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter that reads its value, a number that only grows, when scraped. */
  private counter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** A request or an upgrade was refused with `refusal`. */
  refused(kind: RefusalKind, refusal: HttpError): void {
    this.refusals.inc({ kind, status: refusal.status, code: refusal.code });
  }

  /** The `Content-Type` of `render`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric, in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
