/**
 * The server's background threads (thread pool, LevelDB, V8's helpers) run at a lower priority
 * than its event loop, so that on a shared core a message is not kept waiting behind them
 * (`server/thread-priority.ts`). Read from the real process's threads in /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../server/thread-priority.js';
import { removeDir, startServer, type ServerProcess } from './helpers/server-process.js';

const linux = process.platform === 'linux';
let server: ServerProcess | null = null;

afterEach(async () => {
  if (server === null) return;
  await server.stop();
  await removeDir(server.dataDir);
  server = null;
});

/** Each thread's nice value (field 19 of /proc/PID/task/TID/stat; the name in parentheses may hold spaces). */
function niceValues(pid: number): Map<number, number> {
  const values = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      values.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // a thread that ended while we looked
    }
  }
  return values;
}

describe.runIf(linux)('background thread priority (Linux)', () => {
  it('runs every thread but the event loop at a lower priority', async () => {
    server = await startServer();
    const pid = server.child.pid!;
    // Threads that start after the server are reniced within a few seconds: wait for that.
    const deadline = Date.now() + 15_000;
    let values = niceValues(pid);
    while ([...values].some(([tid, nice]) => tid !== pid && nice !== BACKGROUND_NICE) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      values = niceValues(pid);
    }
    expect(values.get(pid)).toBe(0);
    const others = [...values].filter(([tid]) => tid !== pid);
    expect(others.length).toBeGreaterThan(2);
    expect(others.filter(([, nice]) => nice !== BACKGROUND_NICE)).toEqual([]);
  });
});
