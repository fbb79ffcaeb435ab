/**
 * Idle connections: many clients, each synced to its room and then silent, held open while the
 * orchestrator reads the server's memory.
 */
import { performance } from 'node:perf_hooks';
import { BenchSocket, openSockets } from '../bench-socket.js';
import { sleep } from '../proc.js';
import type { IdlePlan, IdleResult } from './plans.js';

let open: BenchSocket[] = [];

export async function openIdle(plan: IdlePlan, progress: (line: string) => void): Promise<IdleResult> {
  const start = performance.now();
  const total = plan.docs * plan.connectionsPerDoc;
  const { sockets, failed, errors } = await openSockets(
    total,
    (i) => new BenchSocket(plan.urlTemplate, plan.dialect, `idle-${i % plan.docs}`),
    plan.connectConcurrency,
    (done) => {
      if (done % 2000 === 0) progress(`${done}/${total} idle connections synced`);
    },
  );
  open = sockets;
  return { opened: sockets.length - failed, failed, ms: performance.now() - start, errors };
}

/** Counts the idle sockets still open (a server may drop idle clients). */
export function idleStillOpen(): number {
  return open.filter((socket) => !socket.isClosed).length;
}

export async function closeIdle(): Promise<void> {
  for (const socket of open) socket.terminate();
  await Promise.race([Promise.all(open.map((socket) => socket.closed)), sleep(10_000)]);
  open = [];
}
