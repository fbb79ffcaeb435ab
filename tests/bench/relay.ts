/**
 * The relay floor (`bench/peers/relay-floor.ts`) as its own process, for the accounting tests: it
 * forwards every update, or with `fault` gets every 25th wrong (drop, duplicate, misdeliver).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DIST_BENCH } from './built.js';

const RELAY = resolve(DIST_BENCH, 'peers/relay-floor.js');

export interface Relay {
  readonly child: ChildProcess;
  readonly port: number;
  /** The URL template of its documents, as a plan takes it. */
  readonly url: string;
  /** Every how many updates the relay forwards one wrongly (0 when honest). */
  readonly faultEvery: number;
}

/** Starts a relay on a free port of 127.0.0.1; resolves once it listens. */
export async function startRelay(fault?: string): Promise<Relay> {
  const child = spawn(process.execPath, [RELAY, '--host', '127.0.0.1', '--port', '0', ...(fault ? ['--fault', fault] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the relay exited with ${String(code)} before listening`);
  });
  const listening = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) {
      const entry = JSON.parse(line) as { msg: string; port: number; faultEvery?: number };
      if (entry.msg === 'listening') {
        return { child, port: entry.port, url: `ws://127.0.0.1:${entry.port}/ws/{doc}`, faultEvery: entry.faultEvery ?? 0 };
      }
    }
    throw new Error('the relay closed its output before listening');
  })();
  return await Promise.race([listening, exited]);
}
