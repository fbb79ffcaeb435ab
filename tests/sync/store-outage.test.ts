/**
 * A store outage that passes, under a real server process with official y-websocket clients: the
 * server runs out of file descriptors (its soft limit lowered with prlimit below every number its
 * store holds) while a client pastes, until LevelDB cannot create its next log file. The clients
 * are told and closed, the health check says `degraded`, and once descriptors are back the server
 * recovers on its own: healthy, clients reconnect and write, acknowledgements resume. Then it is
 * killed (`kill -9`) or stopped (SIGTERM, which must drain and exit 0), and started again: every
 * update that was acknowledged or seen by another client is there.
 */
import http from 'node:http';
import type * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeSaved, MESSAGE_ERROR, MESSAGE_SAVED } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';
import { lowestDescriptorIn, setSoftLimit, softLimit } from '../helpers/process-limits.js';
import { type ServerProcess, startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

/** Each paste: LevelDB's 4 MiB write buffer fills after about sixteen. */
const PASTE = 256 * 1024;

interface Health {
  readonly status: number;
  readonly body: { status: string; error?: string; rooms: number; connections: number };
}

/**
 * GET /healthz over one kept-alive connection, opened while descriptors are plenty: while they
 * are out, the server could not accept a new one.
 */
function healthOver(server: ServerProcess): () => Promise<Health> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanup.push(() => agent.destroy());
  return () =>
    new Promise((resolve, reject) => {
      http
        .get(`${server.httpUrl}/healthz`, { agent }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) as Health['body'] }));
        })
        .on('error', reject);
    });
}

/** A client with what the server told it: acknowledged clock of its own updates, errors, close codes; and a way to await any of them. */
interface Watched extends YClient {
  saved: number;
  readonly errors: string[];
  readonly closes: number[];
  /** Resolves at the next acknowledgement, error or close. */
  news(): Promise<void>;
  /** Whether it reconnects by itself when closed. */
  reconnects: boolean;
}

function watch(client: YClient): Watched {
  cleanup.push(() => client.destroy());
  let wake: () => void = () => undefined;
  const watched: Watched = Object.assign(client, {
    saved: 0,
    errors: [] as string[],
    closes: [] as number[],
    reconnects: true,
    news: () => new Promise<void>((resolve) => (wake = resolve)),
  });
  client.provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder: decoding.Decoder) => {
    watched.saved = Math.max(watched.saved, decodeSaved(decoder).stateVector.get(client.doc.clientID) ?? 0);
    wake();
  };
  const handleError = client.provider.messageHandlers[MESSAGE_ERROR];
  client.provider.messageHandlers[MESSAGE_ERROR] = (encoder, decoder: decoding.Decoder, ...rest) => {
    const copy = { ...decoder } as decoding.Decoder;
    watched.errors.push(new TextDecoder().decode(copy.arr.subarray(copy.pos)));
    handleError?.(encoder, decoder, ...rest);
  };
  client.provider.on('connection-close', (event: CloseEvent | null) => {
    if (event) watched.closes.push(event.code);
    // While descriptors are out, a connection could not even be accepted: the client stays offline.
    if (!watched.reconnects) client.provider.shouldConnect = false;
    wake();
  });
  return watched;
}

/** How many of the server's log lines so far have a message starting with `start`. */
function linesSaying(server: ServerProcess, start: string): number {
  return server.logs.filter((line) => line.includes(`"msg":"${start}`)).length;
}

describe('a store outage that passes, under a running server', () => {
  for (const ending of ['kill -9', 'SIGTERM'] as const) {
    it(`is reported, recovers on its own, and loses nothing acknowledged or seen (then ${ending})`, async () => {
      const server = await startTestServer(cleanup);
      const pid = server.child.pid!;
      const health = healthOver(server);
      expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } });
      const writer = watch(connectClient(server.wsUrl, 'outage', { params: { ack: '1' } }));
      const observer = watch(connectClient(server.wsUrl, 'outage'));
      await Promise.all([writer.synced, observer.synced]);
      const text = writer.doc.getText('t');
      const ownClock = (): number => Y.getState(writer.doc.store, writer.doc.clientID);

      const limit = softLimit(pid, 'nofile');
      writer.reconnects = observer.reconnects = false;
      setSoftLimit(pid, 'nofile', lowestDescriptorIn(pid, server.dataDir));
      let seen: string;
      let acknowledged: string;
      try {
        // Pastes, each awaited until acknowledged, until the store goes down under one.
        for (let i = 0; i < 64 && writer.closes.length === 0; i++) {
          text.insert(text.length, String.fromCharCode(97 + (i % 26)).repeat(PASTE));
          while (writer.saved < ownClock() && writer.closes.length === 0) await writer.news();
        }
        while (observer.closes.length === 0) await observer.news();
        expect(writer.closes).toEqual([1011]);
        expect(observer.closes).toEqual([1011]);
        expect(writer.errors.some((error) => error.includes('storage-failed'))).toBe(true);
        const down = await health();
        expect(down.status).toBe(503);
        expect(down.body).toMatchObject({ status: 'degraded', error: expect.stringMatching(/^The store is unavailable: .*too many open files/) });
        expect(down.body.error).not.toMatch(/restart/);
        await expect.poll(() => linesSaying(server, 'the store is unavailable')).toBe(1);
        // What the observer saw, and what the writer was told is saved, must survive.
        seen = observer.doc.getText('t').toString();
        acknowledged = text.toString().slice(0, writer.saved);
        expect(seen.length).toBeGreaterThanOrEqual(PASTE);
        // The writer keeps typing, offline.
        for (const word of [' typed', ' while', ' down']) text.insert(text.length, word);
      } finally {
        setSoftLimit(pid, 'nofile', limit);
      }

      // Back on its own, no restart: healthy, and the clients come back and write.
      await expect.poll(async () => (await health()).body.status, { timeout: 20_000, interval: 50 }).toBe('ok');
      await expect.poll(() => linesSaying(server, 'the store recovered')).toBe(1);
      // Said once each, not once per write or attempt.
      expect(linesSaying(server, 'the store is unavailable')).toBe(1);
      writer.reconnects = observer.reconnects = true;
      writer.provider.connect();
      observer.provider.connect();
      while (writer.saved < ownClock()) await writer.news();
      await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === text.toString(), 'the offline typing');
      const newcomer = watch(connectClient(server.wsUrl, 'outage', { params: { ack: '1' } }));
      await newcomer.synced;
      newcomer.doc.getText('t').insert(0, 'after: ');
      while (newcomer.saved < Y.getState(newcomer.doc.store, newcomer.doc.clientID)) await newcomer.news();
      await waitForDoc(writer.doc, () => text.toString().startsWith('after: '), 'the newcomer');
      const final = text.toString();
      expect(final.endsWith(' typed while down')).toBe(true);
      for (const client of [writer, observer, newcomer]) client.provider.disconnect();

      if (ending === 'kill -9') await server.kill();
      else {
        expect(await server.stop('SIGTERM')).toBe(0);
        expect(linesSaying(server, 'stopped; every write is stored')).toBe(1);
      }
      const restarted = await startTestServer(cleanup, { dataDir: server.dataDir });
      const reader = watch(connectClient(restarted.wsUrl, 'outage'));
      await reader.synced;
      const stored = reader.doc.getText('t').toString();
      expect(stored).toBe(final);
      expect(stored.slice('after: '.length).startsWith(seen)).toBe(true);
      expect(stored.slice('after: '.length).startsWith(acknowledged)).toBe(true);
    });
  }
});
