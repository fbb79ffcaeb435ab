/**
 * A fragmented message must be finished in time (issue 24), on a server with
 * `--message-timeout 1000` (milliseconds a message may take to arrive once its first frame has):
 * a client that sends a first fragment and then only pings is closed with 1008 after about a
 * second, while messages finished in time are answered, however slow each is within its own
 * deadline. Autobahn's case groups 5 (fragmentation) and 9 (limits) meet here; the deadline is
 * ours. Raw TCP sockets against a real server; every case also checks that the document under
 * attack is intact.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { clientFrame, fragments, OPCODE, type RawSocket } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isPong, SYNC_STEP_1, syncStep1OfSize } from './suite.js';

const TIMEOUT_MS = 1000;
// The cases wait for deadlines, not for each other.
const suite = conformanceSuite(['--message-timeout', String(TIMEOUT_MS)], { concurrent: true });

/** Sends a ping and waits for its pong: the connection is alive, and read up to here. */
async function pingPong(raw: RawSocket, label: string): Promise<void> {
  raw.write(clientFrame(OPCODE.ping, Buffer.from(label)));
  await raw.take(isPong(Buffer.from(label)), `the pong to "${label}"`);
}

/** Writes `frames` one by one, `pauseMs` apart (the slowness is the point), checking the connection between them. */
async function slowly(raw: RawSocket, frames: readonly Buffer[], pauseMs: number): Promise<void> {
  for (const [i, frame] of frames.entries()) {
    if (i > 0) await sleep(pauseMs);
    raw.write(frame);
    await pingPong(raw, `after fragment ${i}`);
  }
}

describe.concurrent('5.x 9.x a fragmented message has a deadline', () => {
  it('a first fragment followed only by pings is closed with 1008 about a second after it', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1.subarray(0, 2), { fin: false }));
    const started = performance.now();
    // The client stays lively: pings every 200 ms, each answered while the connection is open.
    const pinger = setInterval(() => raw.write(clientFrame(OPCODE.ping, Buffer.from('alive'))), 200);
    try {
      await expectClose(raw, 1008, 3 * TIMEOUT_MS);
    } finally {
      clearInterval(pinger);
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(0.8 * TIMEOUT_MS);
    expect(elapsed).toBeLessThan(2.5 * TIMEOUT_MS);
    await suite.witness.expectIntact();
  });

  it('a message finished within the deadline, a ping between its fragments, is answered', async () => {
    const raw = await suite.open();
    await slowly(raw, fragments(SYNC_STEP_1, 2), 0.3 * TIMEOUT_MS);
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('the deadline is per message: two messages of 0.6 s each, one after the other, are both answered', async () => {
    const raw = await suite.open();
    const message = syncStep1OfSize(40);
    await slowly(raw, fragments(message, 20), 0.6 * TIMEOUT_MS);
    await expectAnswered(raw);
    await slowly(raw, fragments(message, 20), 0.6 * TIMEOUT_MS);
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });
});
