/**
 * `/metrics` of a real server, scraped and read as Prometheus reads it, after real traffic from
 * official y-websocket clients: the counters move by what the traffic did, no more.
 */
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, connectRaw, refusedUpgrade, waitForDoc } from '../helpers/clients.js';
import { parsePrometheus, scrape } from '../helpers/prometheus.js';
import { startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

/** Keystrokes the writer types, each its own update. */
const KEYSTROKES = 30;

describe('/metrics', () => {
  it('counts connections, updates received, stored and broadcast, bytes, refusals, closes, store writes, compactions and versions', async () => {
    // Compactions are due after at most 20 updates: the keystrokes make at least one.
    const server = await startTestServer(cleanup, { args: ['--compact-after', '20'] });
    const metricsUrl = `${server.httpUrl}/metrics`;
    const before = await scrape(metricsUrl);
    for (const [name, type] of [
      ['collab_connections', 'gauge'],
      ['collab_documents_loaded', 'gauge'],
      ['collab_updates_received_total', 'counter'],
      ['collab_updates_stored_total', 'counter'],
      ['collab_updates_broadcast_total', 'counter'],
      ['collab_websocket_received_bytes_total', 'counter'],
      ['collab_websocket_sent_bytes_total', 'counter'],
      ['collab_websocket_input_held_bytes', 'gauge'],
      ['collab_websocket_closes_total', 'counter'],
      ['collab_http_refusals_total', 'counter'],
      ['collab_store_write_seconds', 'histogram'],
      ['collab_journal_bytes', 'gauge'],
      ['collab_compactions_total', 'counter'],
      ['collab_compaction_seconds', 'histogram'],
      ['collab_versions_taken_total', 'counter'],
      ['collab_bus_connected', 'gauge'],
      ['collab_bus_messages_dropped_total', 'counter'],
      ['collab_process_cpu_seconds_total', 'counter'],
      ['collab_process_resident_memory_bytes', 'gauge'],
      ['collab_nodejs_eventloop_lag_p99_seconds', 'gauge'],
    ]) {
      expect(before.types.get(name!), name).toBe(type);
    }
    expect(before.value('collab_updates_stored_total')).toBe(0);
    expect(before.value('collab_ready')).toBe(1);
    expect(before.value('collab_bus_connected')).toBe(1);

    const writer = connectClient(server.wsUrl, 'metered');
    const reader = connectClient(server.wsUrl, 'metered');
    cleanup.push(() => reader.destroy());
    await Promise.all([writer.synced, reader.synced]);
    const text = writer.doc.getText('t');
    for (let i = 0; i < KEYSTROKES; i++) text.insert(text.length, 'x');
    await waitForDoc(reader.doc, () => reader.doc.getText('t').length === KEYSTROKES);
    // A refused upgrade (a name past --max-name-length), and a named version over HTTP.
    expect((await refusedUpgrade(`${server.wsUrl}/${'n'.repeat(300)}`))[0]).toBe(400);
    const version = await fetch(`${server.httpUrl}/api/documents/metered/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'metered' }),
    });
    expect(version.status).toBe(201);

    // A compaction is queued once due, and written a moment later.
    await expect.poll(async () => (await scrape(metricsUrl)).value('collab_compactions_total')).toBeGreaterThanOrEqual(1);
    const after = await scrape(metricsUrl);
    expect(after.value('collab_connections')).toBe(2);
    expect(after.value('collab_documents_loaded')).toBe(1);
    // Each client's sync step 2, and the keystrokes.
    expect(after.value('collab_updates_received_total')).toBe(KEYSTROKES + 2);
    expect(after.value('collab_updates_stored_total')).toBe(KEYSTROKES);
    // Each keystroke went to the one other client.
    expect(after.value('collab_updates_broadcast_total')).toBe(KEYSTROKES);
    expect(after.value('collab_websocket_received_bytes_total')).toBeGreaterThan(KEYSTROKES * 20);
    expect(after.value('collab_websocket_sent_bytes_total')).toBeGreaterThan(KEYSTROKES * 20);
    expect(after.value('collab_http_refusals_total', { kind: 'upgrade', status: '400', code: 'invalid-document-name' })).toBe(1);
    const writes = after.value('collab_store_write_seconds_count');
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(KEYSTROKES);
    expect(after.value('collab_store_write_seconds_bucket', { le: '+Inf' })).toBe(writes);
    expect(after.value('collab_store_write_seconds_sum')).toBeGreaterThan(0);
    expect(after.value('collab_compaction_seconds_count')).toBe(after.value('collab_compactions_total'));
    expect(after.value('collab_compaction_failures_total')).toBe(0);
    expect(after.value('collab_versions_taken_total', { kind: 'named' })).toBe(1);
    expect(after.value('collab_journal_bytes')).toBeGreaterThan(0);
    expect(after.value('collab_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(after.value('collab_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(after.samples.filter((sample) => !sample.name.startsWith('collab_'))).toEqual([]);
    expect(after.find('collab_updates_received_total')[0]!.labels).toEqual({});

    // The writer closes (its close frame has no code); a raw client sends text, which the server refuses (1003).
    writer.destroy();
    const raw = connectRaw(`${server.wsUrl}/metered`);
    await raw.opened;
    raw.socket.send('not binary');
    expect((await raw.closed).code).toBe(1003);
    await expect
      .poll(async () => {
        const closes = await scrape(metricsUrl);
        return [closes.find('collab_websocket_closes_total', { by: 'client' }).length, closes.value('collab_connections')];
      })
      .toEqual([1, 1]);
    const closed = await scrape(metricsUrl);
    expect(closed.value('collab_websocket_closes_total', { by: 'server', code: '1003' })).toBe(1);
    expect(closed.find('collab_websocket_closes_total', { by: 'client' })[0]!.value).toBe(1);
  });

  it('reads the text format strictly', () => {
    const exposition = parsePrometheus(
      ['# HELP a_total An "a".', '# TYPE a_total counter', 'a_total{x="1",y="q\\"uote"} 3', 'b 1.5e3', 'c_bucket{le="+Inf"} +Inf'].join('\n'),
    );
    expect(exposition.value('a_total', { y: 'q"uote' })).toBe(3);
    expect(exposition.value('b')).toBe(1500);
    expect(exposition.types.get('a_total')).toBe('counter');
    expect(() => parsePrometheus('a_total{x=1} 3')).toThrow(SyntaxError);
    expect(() => parsePrometheus('a_total three')).toThrow(SyntaxError);
  });
});
