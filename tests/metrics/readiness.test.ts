/**
 * `/readyz`, for load balancers: 200 only while the server listens, is not draining and its store
 * takes writes; otherwise 503 with the state and why. The states a process passes through too
 * fast to be seen from outside (before the main port listens, while it drains) are held open
 * here in the test's own process, with the metrics port, which listens first and closes last;
 * the store fails for real (its journal pointed at /dev/full, LevelDB closed under it).
 */
import { ClassicLevel } from 'classic-level';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DocumentStore } from '../../persistence/document-store.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { type CollabServer, createCollabServer } from '../../server/app.js';
import { DEFAULT_CONFIG } from '../../server/config.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { scrape } from '../helpers/prometheus.js';
import { removeDir, startTestServer, tempDataDir } from '../helpers/server-process.js';
import { redirectJournal } from '../persistence/helpers.js';

const cleanup = cleanupAfterEach();

interface Readiness {
  readonly status: number;
  readonly body: { status: string; reason?: string };
}

async function readyz(base: string): Promise<Readiness> {
  const response = await fetch(`${base}/readyz`);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return { status: response.status, body: (await response.json()) as Readiness['body'] };
}

/** A LevelDB store in a fresh directory, closed and removed after the test; `db` is its LevelDB. */
async function levelStore(): Promise<{ dataDir: string; db: ClassicLevel<string, Uint8Array>; store: LevelDocumentStore }> {
  const dataDir = await tempDataDir();
  cleanup.push(() => removeDir(dataDir));
  const db = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const store = await LevelDocumentStore.fromDatabase(db);
  cleanup.push(() => store.close().catch(() => undefined));
  return { dataDir, db, store };
}

/** A server on `store` with a metrics port, not yet listening; closed after the test. */
function serverOn(store: DocumentStore, port = 0): CollabServer {
  const server = createCollabServer({ ...DEFAULT_CONFIG, port, metricsPort: 0, unloadGraceMs: 60_000 }, store, pino({ level: 'silent' }));
  cleanup.push(() => server.close().catch(() => undefined));
  return server;
}

function metricsBase(server: CollabServer): string {
  const address = server.metricsAddress;
  if (address === null) throw new Error('no metrics port');
  return `http://127.0.0.1:${address.port}`;
}

describe('/readyz', () => {
  it('is 200, with its state, on a server that listens', async () => {
    const server = await startTestServer(cleanup, { args: ['--metrics-port', '0'] });
    expect(await readyz(server.httpUrl)).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('is 503 "starting" until the main port listens', async () => {
    const { store } = await levelStore();
    // The main port is taken: the server cannot listen there, and the metrics port, which listens first, says it is not ready.
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => taken.close(resolve)));
    const server = serverOn(store, (taken.address() as AddressInfo).port);
    await expect(server.listen()).rejects.toThrow(/EADDRINUSE/);
    expect(await readyz(metricsBase(server))).toEqual({ status: 503, body: { status: 'starting', reason: 'the server is starting: it does not listen yet' } });
    expect((await scrape(`${metricsBase(server)}/metrics`)).value('collab_ready')).toBe(0);
  });

  it('is 503 "draining" from the start of a stop until the end, while writes drain', async () => {
    const { store } = await levelStore();
    // The room's compaction on the way out is held until the test lets it go.
    let entered: () => void = () => undefined;
    const compacting = new Promise<void>((resolve) => (entered = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = new Proxy(store, {
      get(target, key) {
        if (key === 'compact') {
          return async (...args: Parameters<DocumentStore['compact']>) => {
            entered();
            await released;
            return target.compact(...args);
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const server = serverOn(held);
    const { port } = await server.listen();
    const base = metricsBase(server);
    expect((await readyz(base)).status).toBe(200);
    const client = connectClient(`ws://127.0.0.1:${port}/ws`, 'drained');
    cleanup.push(() => client.destroy());
    await client.synced;
    client.doc.getText('t').insert(0, 'kept');
    await expect.poll(async () => (await scrape(`${base}/metrics`)).value('collab_updates_stored_total')).toBe(1);

    const closing = server.close();
    await compacting;
    expect(await readyz(base)).toEqual({
      status: 503,
      body: { status: 'draining', reason: 'the server is stopping: it finishes what it holds and takes nothing new' },
    });
    expect((await scrape(`${base}/metrics`)).value('collab_ready')).toBe(0);
    release();
    await closing;
    // Drained: the metrics port closed last.
    await expect(fetch(`${base}/readyz`)).rejects.toThrow();
  });

  it('is 503 "degraded" while the store is unavailable, and 200 once it recovers on its own', async () => {
    const { dataDir, store } = await levelStore();
    const server = serverOn(store);
    const { port } = await server.listen();
    const base = `http://127.0.0.1:${port}`;
    const client = connectClient(`ws://127.0.0.1:${port}/ws`, 'fragile');
    cleanup.push(() => client.destroy());
    await client.synced;
    const failed = new Promise<void>((resolve) => store.onFailure(() => resolve()));
    const recovered = new Promise<void>((resolve) => store.onRecovery(resolve));

    // The disk fills up.
    const restore = redirectJournal(dataDir, '/dev/full');
    client.doc.getText('t').insert(0, 'lost?');
    await failed;
    expect(await readyz(base)).toEqual({
      status: 503,
      body: {
        status: 'degraded',
        reason: 'The store is unavailable: the journal could not be written (no space left on device); it retries on its own',
      },
    });
    expect((await scrape(`${metricsBase(server)}/metrics`)).value('collab_store_write_failures_total')).toBe(1);

    restore();
    await recovered;
    expect(await readyz(base)).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('is 503 "failing" once the store failed for good', async () => {
    const { db, store } = await levelStore();
    const server = serverOn(store);
    const { port } = await server.listen();
    const client = connectClient(`ws://127.0.0.1:${port}/ws`, 'broken');
    const observer = connectClient(`ws://127.0.0.1:${port}/ws`, 'broken');
    cleanup.push(
      () => client.destroy(),
      () => observer.destroy(),
    );
    await Promise.all([client.synced, observer.synced]);
    const failed = new Promise<void>((resolve) => store.onFailure(() => resolve()));

    // LevelDB goes away; the journal still takes the update, and indexing it fails the store.
    await store.flush();
    await db.close();
    client.doc.getText('t').insert(0, 'journaled');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'journaled');
    await failed;
    const { status, body } = await readyz(`http://127.0.0.1:${port}`);
    expect([status, body.status]).toEqual([503, 'failing']);
    expect(body.reason).toMatch(/^The store failed: .*; restart the server$/);
  });
});
