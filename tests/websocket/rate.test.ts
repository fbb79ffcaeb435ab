/**
 * Control frames count against a connection's rate (issue 24), on a server with
 * `--max-message-rate 50`: a client that floods pings, or unsolicited pongs, is closed with 1008
 * within a second or two, while another client on the same server keeps getting prompt answers.
 * Autobahn's case groups 2 (pings and pongs) and 9 (limits) meet here; the flood is ours. Raw TCP
 * sockets against a real server; every case also checks that the document under attack is intact.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { clientFrame, OPCODE, type RawSocket } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isAwareness, isPong, QUERY_AWARENESS, SYNC_STEP_1 } from './suite.js';

const RATE = 50;
const suite = conformanceSuite(['--max-message-rate', String(RATE)]);

/** Writes `frame` over and over, as fast as the socket takes it, until the socket closes or `stop` says so. */
async function flood(raw: RawSocket, frame: Buffer, stop: () => boolean): Promise<number> {
  const batch = Buffer.concat(Array.from({ length: 256 }, () => frame));
  let sent = 0;
  while (!raw.isClosed && raw.closeReceived === null && !stop()) {
    await raw.writeThrough(batch);
    sent += 256;
    // Let the test's other sockets be read between batches.
    await nextTurn();
  }
  return sent;
}

/** Round trips of a query-awareness message, one after the other, in milliseconds: `count`, or as many as fit in `budgetMs`. */
async function roundTrips(raw: RawSocket, count: number, budgetMs: number): Promise<number[]> {
  const times: number[] = [];
  const end = performance.now() + budgetMs;
  for (let i = 0; i < count && performance.now() < end; i++) {
    const start = performance.now();
    raw.write(clientFrame(OPCODE.binary, QUERY_AWARENESS));
    await raw.take(isAwareness, `the answer to query ${i + 1}`, 5000);
    times.push(performance.now() - start);
  }
  return times;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A client on its own document, where nobody publishes presence: every awareness message it gets answers a query. */
async function bystander(): Promise<RawSocket> {
  const raw = await suite.open({ name: 'rate-bystander' });
  raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
  await expectAnswered(raw);
  return raw;
}

describe('2.x 9.x control frames count against the message rate', () => {
  const floods: Array<[string, Buffer]> = [
    ['pings', clientFrame(OPCODE.ping, Buffer.from('flood'))],
    ['unsolicited pongs', clientFrame(OPCODE.pong, Buffer.from('flood'))],
  ];
  for (const [what, frame] of floods) {
    it(`a client flooding ${what} is closed with 1008 within two seconds; another client's round trips stay low`, async () => {
      const other = await bystander();
      const flooder = await suite.open({ recordPongs: false });
      const started = performance.now();
      let stopped = false;
      const flooding = flood(flooder, frame, () => stopped);
      try {
        const times = await roundTrips(other, 20, 2000);
        expect(median(times), `round trips during the flood (ms): ${times.map((t) => t.toFixed(1)).join(' ')}`).toBeLessThan(50);
        await expectClose(flooder, 1008, Math.max(100, 3000 - (performance.now() - started)));
        expect(performance.now() - started).toBeLessThan(3000);
      } finally {
        stopped = true;
        await flooding;
        flooder.destroy();
        await flooder.ended;
      }
      expect(other.closeReceived).toBeNull();
      await suite.witness.expectIntact();
    });
  }

  it('pings within the rate are each answered, and the connection stays open', async () => {
    const raw = await suite.open();
    // Well under the burst of twice the rate.
    const payloads = Array.from({ length: RATE / 2 }, (_, i) => Buffer.from(`ping ${i}`));
    raw.write(...payloads.map((payload) => clientFrame(OPCODE.ping, payload)));
    await raw.take(isPong(payloads.at(-1)!), 'the last pong');
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });
});
