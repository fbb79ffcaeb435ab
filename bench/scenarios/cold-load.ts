/**
 * Cold load: the B4 trace replayed into one document, one update per keystroke; the server is
 * stopped gracefully once it is idle, restarted, and a fresh client is timed from connecting to
 * holding the full text. The disk the data directory uses is measured at the end.
 */
import { cpuSeconds, dirBytes, sleep } from '../proc.js';
import { ServerProcess } from '../servers.js';
import { cleanUp, dataDirFor, outcome, type Scenario } from './scenario.js';

const MiB = 2 ** 20;
/**
 * The cold-load writer's Yjs client id, plus the number of keystrokes replayed (fixed: its updates
 * are the same for every server). The bandwidth scenario stores the whole trace with the same id,
 * so in a full run both use the same replay, generated once.
 */
export const b4ClientId = 424242;

/** Waits until the server used no CPU for a second (its writes are done), up to `timeoutMs`. */
async function waitIdle(pid: number, timeoutMs: number): Promise<void> {
  const start = Date.now();
  let last = cpuSeconds(pid);
  let quiet = 0;
  while (quiet < 4 && Date.now() - start < timeoutMs) {
    await sleep(250);
    const now = cpuSeconds(pid);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

export const coldLoad: Scenario = {
  name: 'cold-load',
  title: 'cold load: B4 trace, restart, time to full state',
  run: async (ctx, spec) => {
    const { keystrokes, restarts, window } = ctx.config.coldLoad;
    const dataDir = dataDirFor(ctx, spec, 'cold-load');
    const doc = 'b4';
    let server = await ServerProcess.start(spec, dataDir, ctx.cores.server);
    const target = () => ({ dialect: spec.dialect, urlTemplate: server.urlTemplate, serverPid: server.pid, serverCore: ctx.cores.server });
    const loads: { ms: number; complete: boolean; length: number; expectedLength: number }[] = [];
    let replay: Awaited<ReturnType<typeof ctx.loadgen.replay>>;
    try {
      replay = await ctx.loadgen.replay({ ...target(), doc, keystrokes, window, clientId: b4ClientId + keystrokes });
      ctx.log(`  replayed ${replay.delivered}/${replay.keystrokes} keystrokes in ${(replay.ms / 1000).toFixed(1)} s`);
      await waitIdle(server.pid, 120_000);
      for (let r = 0; r < restarts; r++) {
        await server.stop();
        server = await ServerProcess.start(spec, dataDir, ctx.cores.server);
        const load = await ctx.loadgen.fetch({ ...target(), doc, clientId: b4ClientId + keystrokes, timeoutMs: 120_000 });
        ctx.log(`  restart ${r + 1}: full state (${load.length} chars) after ${load.ms.toFixed(1)} ms`);
        loads.push(load);
        await waitIdle(server.pid, 60_000);
      }
    } finally {
      await server.stop();
    }
    const disk = dirBytes(dataDir);
    cleanUp(ctx, dataDir);
    const first = loads[0]!;
    const failures: string[] = [];
    if (replay.delivered < replay.keystrokes) failures.push(`replay: ${replay.keystrokes - replay.delivered} keystrokes never delivered`);
    for (const load of loads) {
      if (!load.complete) failures.push(`load: got ${load.length} of ${load.expectedLength} characters`);
    }
    return outcome(coldLoad, spec, {
      figures: [
        { key: 'loadMs', label: 'connect to full state', value: first.ms, unit: 'ms', better: 'lower', target: { ratio: 0.25 } },
        { key: 'disk', label: 'disk used', value: disk / MiB, unit: 'MiB', better: 'lower', info: true },
        { key: 'replayRate', label: 'replay rate', value: replay.keystrokes / (replay.ms / 1000), unit: 'upd/s', better: 'higher', info: true },
      ],
      failures,
      notes: [`${replay.keystrokes} keystrokes; loads after restarts: ${loads.map((load) => load.ms.toFixed(0)).join(', ')} ms`],
      raw: { replay, loads, diskBytes: disk },
    });
  },
};
