/**
 * Webhooks are delivered at least once: retried while the receiver is down or failing, kept in
 * the store through a `kill -9`, and bounded to the latest event per document and kind while
 * they wait. A real server process, a real local HTTP receiver.
 */
import { describe, expect, it } from 'vitest';
import { call, documentUrl, postUpdate, textWriter } from '../api/api.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { scrape } from '../helpers/prometheus.js';
import { removeDir, type ServerProcess, startServer, tempDataDir } from '../helpers/server-process.js';
import { type ReceivedHook, WebhookReceiver } from '../helpers/webhook-receiver.js';

const cleanup = cleanupAfterEach();
const SECRET = 'a-webhook-secret-long-enough-for-hmac-sha256!!';

async function receiver(): Promise<WebhookReceiver> {
  const started = await WebhookReceiver.start(SECRET);
  cleanup.push(() => started.down());
  return started;
}

async function serverFor(hooks: WebhookReceiver, dataDir: string, port?: number): Promise<ServerProcess> {
  const server = await startServer({
    dataDir,
    ...(port === undefined ? {} : { port }),
    args: ['--webhook-url', hooks.url, '--webhook-secret', SECRET, '--log-level', 'debug'],
  });
  cleanup.push(() => server.kill());
  return server;
}

async function dataDir(): Promise<string> {
  const dir = await tempDataDir();
  cleanup.push(() => removeDir(dir));
  return dir;
}

/** Resolves once the server logged `message` of an event of `type` for `doc`. */
function logged(server: ServerProcess, message: string, type: string, doc: string): Promise<void> {
  return expect
    .poll(() => server.logs.some((line) => line.includes(message) && line.includes(`"type":"${type}"`) && line.includes(`"doc":"${doc}"`)), { timeout: 20_000 })
    .toBe(true);
}

describe('webhook delivery', () => {
  it('retries while the receiver is down or failing, and delivers once it is back', async () => {
    const hooks = await receiver();
    const server = await serverFor(hooks, await dataDir());
    await hooks.down();
    await postUpdate(server.httpUrl, 'late', textWriter().type('written while the receiver is down'));
    await logged(server, 'webhook delivery failed', 'document.created', 'late');
    hooks.status = 503;
    await hooks.up();
    await hooks.waitFor((received) => received.length >= 1, 'a retry answered 503');
    hooks.status = 200;
    await hooks.waitFor((received) => received.length >= 2, 'a retry answered 200');
    // Metrics count each outcome, and nothing is left pending once the receiver took it.
    await expect.poll(async () => (await scrape(`${server.httpUrl}/metrics`)).value('collab_webhook_events_pending')).toBe(0);
    const metrics = await scrape(`${server.httpUrl}/metrics`);
    expect(metrics.value('collab_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(metrics.value('collab_webhook_deliveries_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(2);
    expect(metrics.value('collab_webhook_deliveries_total', { outcome: 'given_up' })).toBe(0);
    expect(await server.stop()).toBe(0);
    // Delivered once it was taken: the 503 was retried, the 200 was not.
    expect(hooks.received.map((hook) => hook.event.type)).toEqual(['document.created', 'document.created']);
    expect(hooks.received[0]!.event.id).toBe(hooks.received[1]!.event.id);
    expect(hooks.received.every((hook) => hook.signed)).toBe(true);
  });

  it('delivers after a restart what was pending when the server was killed with SIGKILL', async () => {
    const hooks = await receiver();
    const dir = await dataDir();
    const first = await serverFor(hooks, dir);
    await hooks.down();
    const writer = textWriter();
    await postUpdate(first.httpUrl, 'kept', writer.type('a'));
    await postUpdate(first.httpUrl, 'kept', writer.type('b'));
    await postUpdate(first.httpUrl, 'gone', textWriter().type('c'));
    expect((await call(documentUrl(first.httpUrl, 'gone'), { method: 'DELETE' })).status).toBe(204);
    // Killed once every event is in the store's queue: the document.updated most likely while
    // its window is still open (held, never tried), the others tried and failed or not yet.
    await logged(first, 'queued a webhook event', 'document.created', 'kept');
    await logged(first, 'queued a webhook event', 'document.created', 'gone');
    await logged(first, 'queued a webhook event', 'document.updated', 'kept');
    await logged(first, 'queued a webhook event', 'document.deleted', 'gone');
    await first.kill();

    await hooks.up();
    const second = await serverFor(hooks, dir, first.port);
    const expected = ['document.created kept', 'document.created gone', 'document.updated kept', 'document.deleted gone'];
    const seen = (received: readonly ReceivedHook[]) => new Set(received.map((hook) => `${hook.event.type} ${hook.event.document}`));
    await hooks.waitFor((received) => expected.every((event) => seen(received).has(event)), 'every pending event');
    expect(await second.stop()).toBe(0);
    expect(hooks.received.every((hook) => hook.signed)).toBe(true);
    expect([...seen(hooks.received)].sort()).toEqual([...expected].sort());
  });

  it('keeps only the latest event per document and kind while the receiver is down', async () => {
    const hooks = await receiver();
    const server = await serverFor(hooks, await dataDir());
    await hooks.down();
    const writer = textWriter();
    await postUpdate(server.httpUrl, 'bounded', writer.type('first'));
    // Three windows of changes, each closed before the next opens: three events, each replacing the last.
    let lastWindow = 0;
    for (let window = 1; window <= 3; window++) {
      lastWindow = Date.now();
      await postUpdate(server.httpUrl, 'bounded', writer.type(` ${window}`));
      await expect
        .poll(() => server.logs.filter((line) => line.includes('webhook is due') && line.includes('"doc":"bounded"')).length, { timeout: 10_000 })
        .toBe(window);
    }
    await hooks.up();
    await hooks.waitFor((received) => received.length >= 2, 'the created and the latest updated event');
    expect(await server.stop()).toBe(0);
    expect(hooks.received.map((hook) => hook.event.type).sort()).toEqual(['document.created', 'document.updated']);
    // The one updated event is the last window's, which reports its first change.
    expect(Date.parse(hooks.of('document.updated')[0]!.event.time)).toBeGreaterThanOrEqual(lastWindow - 1000);
  });
});
