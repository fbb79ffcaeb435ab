/**
 * Background threads yield the core to the event loop.
 *
 * Besides the event loop, which reads and writes every socket, the process runs threads that do
 * work nobody waits for: LevelDB indexing journaled updates and compacting its files (on libuv's
 * thread pool and LevelDB's own thread), fdatasyncs with `--fsync`, and V8's concurrent garbage
 * collection helpers. When they share a core with the event loop (one core, or a busy machine),
 * a message that arrives while one of them runs waits for the scheduler to switch back. Measured
 * with the many-rooms benchmark (server pinned to one core; nine rounds each): latency p99 median
 * 3.1 ms with every thread at the same priority, 2.2 ms with the others at nice 10, for the same
 * CPU per update. Nothing is lost by it: updates are durable once journaled, on the event loop;
 * what the background threads do only lags when the core is saturated anyway.
 *
 * Linux only: there, `setpriority` takes a thread id and sets that thread's nice value, which no
 * privilege is needed to raise. (Elsewhere a process id would renice the whole process, so nothing
 * is done.) Threads start lazily (the thread pool at its first task, LevelDB's compaction thread
 * at its first compaction), so new ones are looked for every few seconds.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value given to every thread but the event loop's. */
export const BACKGROUND_NICE = 10;
const CHECK_INTERVAL_MS = 5000;

/**
 * Lowers the priority of every thread of this process but the main one, now and as they start.
 * Returns a function that stops looking for new ones. Does nothing (and returns a no-op) where
 * threads cannot be listed and reniced one by one, or if renicing fails (a sandbox forbidding it).
 */
export function deprioritizeBackgroundThreads(): () => void {
  if (process.platform !== 'linux') return () => undefined;
  const main = String(process.pid);
  const seen = new Set<string>([main]);
  const check = (): boolean => {
    let threads: string[];
    try {
      threads = readdirSync('/proc/self/task');
    } catch {
      return false;
    }
    for (const thread of threads) {
      if (seen.has(thread)) continue;
      seen.add(thread);
      try {
        setPriority(Number(thread), BACKGROUND_NICE);
      } catch {
        // A thread that ended meanwhile, or a system that does not allow it: it keeps its priority.
      }
    }
    return true;
  };
  if (!check()) return () => undefined;
  const timer = setInterval(check, CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
