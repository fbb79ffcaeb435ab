/**
 * A connection that sends nothing is closed (issue 24), on a server with `--handshake-timeout 1000`
 * (milliseconds for a request's headers, the upgrade, and a WebSocket's first message): a TCP
 * connection that sends nothing, half a request line, or headers that never end is closed within
 * about a second and a half; an upgraded WebSocket that sends no message is closed with 1008; one
 * whose first message came in time stays open. Autobahn has no such case (its group 1 opens with
 * the handshake); these are ours. Raw TCP sockets against a real server; every case also checks
 * that the document under attack is intact.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { clientFrame, OPCODE } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, SYNC_STEP_1, within } from './suite.js';

const TIMEOUT_MS = 1000;
/** "About a second and a half", generously. */
const CLOSED_WITHIN_MS = 2500;

// The cases wait for deadlines, not for each other.
const suite = conformanceSuite(['--handshake-timeout', String(TIMEOUT_MS)], { concurrent: true });

/** A plain TCP connection to the server; resolves once connected. */
async function tcp(): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = connect(suite.server.port, '127.0.0.1');
  socket.on('error', () => undefined);
  // Read (and drop) whatever the server answers, a 408 say, so its close is seen.
  socket.resume();
  await new Promise((resolve) => socket.once('connect', resolve));
  const opened = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - opened)));
  return { socket, closed };
}

/** Waits for the server to close `socket`, which it must do within `CLOSED_WITHIN_MS` (and not at once). */
async function expectClosedByServer(socket: Socket, closed: Promise<number>): Promise<void> {
  try {
    const elapsed = await within(closed, CLOSED_WITHIN_MS, 'the server to close the connection');
    expect(elapsed).toBeGreaterThan(0.5 * TIMEOUT_MS);
  } finally {
    socket.destroy();
  }
}

describe.concurrent('idle connections have a deadline', () => {
  it('a TCP connection that sends nothing is closed within about a second and a half', async () => {
    const { socket, closed } = await tcp();
    await expectClosedByServer(socket, closed);
    await suite.witness.expectIntact();
  });

  it('a TCP connection that sends half a request line is closed within about a second and a half', async () => {
    const { socket, closed } = await tcp();
    socket.write('GET /ws/conformance HT');
    await expectClosedByServer(socket, closed);
    await suite.witness.expectIntact();
  });

  it('a request whose headers never end, a line every 200 ms, is closed within about a second and a half of its start', async () => {
    const { socket, closed } = await tcp();
    socket.write(`GET /ws/conformance HTTP/1.1\r\nHost: 127.0.0.1:${suite.server.port}\r\n`);
    let line = 0;
    const dribble = setInterval(() => socket.write(`X-Header-${line++}: still coming\r\n`), 200);
    try {
      await expectClosedByServer(socket, closed);
    } finally {
      clearInterval(dribble);
    }
    await suite.witness.expectIntact();
  });

  it('an upgraded WebSocket that sends no message is closed with 1008', async () => {
    const raw = await suite.open();
    const started = performance.now();
    await expectClose(raw, 1008, CLOSED_WITHIN_MS);
    expect(performance.now() - started).toBeGreaterThan(0.5 * TIMEOUT_MS);
    await suite.witness.expectIntact();
  });

  it('an upgraded WebSocket whose first message came in time stays open past the deadline', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    // Proving that nothing happens takes waiting past the deadline.
    await sleep(1.5 * TIMEOUT_MS);
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });
});
