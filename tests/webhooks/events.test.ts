/**
 * Webhooks as a receiver sees them, from a real server process to a real local HTTP receiver:
 * which events arrive, signed how, and when `document.updated` goes out (2 s after the last change,
 * at most every 10 s while changes go on).
 */
import { describe, expect, it } from 'vitest';
import { call, documentUrl, postUpdate, textWriter } from '../api/api.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { startTestServer } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const cleanup = cleanupAfterEach();
const SECRET = 'a-webhook-secret-long-enough-for-hmac-sha256!!';

async function receiverAndServer() {
  const receiver = await WebhookReceiver.start(SECRET);
  cleanup.push(() => receiver.down());
  const server = await startTestServer(cleanup, { args: ['--webhook-url', receiver.url, '--webhook-secret', SECRET, '--log-level', 'debug'] });
  return { receiver, server };
}

describe('webhooks', () => {
  it('posts document.created, document.updated and document.deleted, each signed', async () => {
    const { receiver, server } = await receiverAndServer();
    const writer = textWriter();
    expect((await postUpdate(server.httpUrl, 'notes/a', writer.type('hello'))).status).toBe(200);
    await receiver.waitFor((hooks) => hooks.some((hook) => hook.event.type === 'document.created'), 'document.created');
    expect((await postUpdate(server.httpUrl, 'notes/a', writer.type(' world'))).status).toBe(200);
    await receiver.waitFor((hooks) => hooks.some((hook) => hook.event.type === 'document.updated'), 'document.updated');
    expect((await call(documentUrl(server.httpUrl, 'notes/a'), { method: 'DELETE' })).status).toBe(204);
    await receiver.waitFor((hooks) => hooks.some((hook) => hook.event.type === 'document.deleted'), 'document.deleted');

    expect(receiver.received.map((hook) => [hook.event.type, hook.event.document])).toEqual([
      ['document.created', 'notes/a'],
      ['document.updated', 'notes/a'],
      ['document.deleted', 'notes/a'],
    ]);
    for (const hook of receiver.received) {
      expect(hook.signed).toBe(true);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['x-collab-event']).toBe(hook.event.type);
      expect(hook.headers['x-collab-event-id']).toBe(hook.event.id);
      expect(Number.isNaN(Date.parse(hook.event.time))).toBe(false);
    }
    expect(new Set(receiver.received.map((hook) => hook.event.id)).size).toBe(3);
    // The receiver's URL may hold a token in its query: logs show it without.
    expect(server.logs.some((line) => line.includes('receiver-secret-query'))).toBe(false);
  });

  it('sends a document.updated 2 s after the last change, and at most every 10 s while changes go on', async () => {
    const { receiver, server } = await receiverAndServer();
    const writer = textWriter();
    await postUpdate(server.httpUrl, 'busy', writer.type('x'));
    await receiver.waitFor((hooks) => hooks.length === 1, 'document.created');

    // One change: its event comes once 2 s passed without another.
    await postUpdate(server.httpUrl, 'busy', writer.type('y'));
    const single = Date.now();
    await receiver.waitFor((hooks) => hooks.length === 2, 'the first document.updated');
    expect(receiver.received[1]!.at - single).toBeGreaterThanOrEqual(1900);
    expect(receiver.received[1]!.at - single).toBeLessThan(4000);

    // Changes every 200 ms for 13 s: one event about 10 s after the first, none in between,
    // and the last 2 s after they stop.
    const started = Date.now();
    let last = started;
    while (Date.now() - started < 13_000) {
      expect((await postUpdate(server.httpUrl, 'busy', writer.type('z'))).status).toBe(200);
      last = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const during = receiver.of('document.updated').slice(1);
    expect(during.length).toBe(1);
    expect(during[0]!.at - started).toBeGreaterThanOrEqual(9500);
    expect(during[0]!.at - started).toBeLessThan(12_000);
    await receiver.waitFor((hooks) => hooks.filter((hook) => hook.event.type === 'document.updated').length === 3, 'the last document.updated');
    expect(receiver.of('document.updated')[2]!.at - last).toBeGreaterThanOrEqual(1900);
    expect(receiver.received.every((hook) => hook.signed)).toBe(true);
  });

  it('keeps editing fast while the receiver hangs', async () => {
    const { receiver, server } = await receiverAndServer();
    receiver.hang = true;
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect((await postUpdate(server.httpUrl, `doc-${i}`, textWriter().type('a'))).status).toBe(200);
      expect(performance.now() - started).toBeLessThan(1000);
    }
    // The requests reached the receiver, which holds them: only a few at a time are in flight.
    await receiver.waitFor((hooks) => hooks.length >= 1, 'a request');
    expect(receiver.received.length).toBeLessThanOrEqual(4);
  });
});
