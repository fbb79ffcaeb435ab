/**
 * Steady typing: writers replay the trace at a fixed rate into many rooms while readers count and
 * timestamp every delivery. Runs one or more phases (the ceiling raises the rate phase by phase);
 * each phase drains before the next, so its drops, duplicates, latency and server CPU are its own.
 *
 * Accounting is exact: every reader must receive every keystroke of every writer of its room once.
 * A keystroke received twice is a duplicate, one never received (after the drain) is a drop, one
 * received in another room is a misdelivery.
 */
import { performance } from 'node:perf_hooks';
import { BenchSocket, openSockets } from '../bench-socket.js';
import { DeliveryIndex } from '../delivery-index.js';
import { coreTicks, cpuSeconds, sleep } from '../proc.js';
import { seededRandom } from '../random.js';
import { updateMessage } from '../wire.js';
import type { PhaseResult, SteadyPlan, SteadyResult } from './plans.js';
import { Placement } from './placement.js';
import { clientIds, replayFor } from './writers.js';
import { Tally, type WriterState } from './tally.js';

/** A full garbage collection (the load generator runs with `--expose-gc`, see `client.ts`). */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the load generator must run with --expose-gc');
  gc();
}

/** What a finished steady run leaves behind for `verify` (crash trials). */
export interface SteadySession {
  plan: SteadyPlan;
  index: DeliveryIndex;
  writers: WriterState[];
}

export async function runSteady(plan: SteadyPlan, progress: (line: string) => void): Promise<{ result: SteadyResult; session: SteadySession }> {
  // A phase no longer than its lead-in would record no latency at all, and pass any limit on it.
  const tooShort = plan.phases.find((phase) => phase.durationMs <= plan.leadInMs);
  if (tooShort !== undefined) throw new RangeError(`a ${tooShort.durationMs} ms phase is no longer than its ${plan.leadInMs} ms lead-in`);
  const random = seededRandom(plan.seed);
  // The warm-up phase (if any) runs first at the first rate; it is reported apart, never measured.
  const warmup = plan.warmupMs > 0 ? [{ ratePerWriter: plan.phases[0]!.ratePerWriter, durationMs: plan.warmupMs }] : [];
  const allPhases: { ratePerWriter: number; durationMs: number; retry?: boolean }[] = [...warmup, ...plan.phases];
  // Keystrokes for every phase, and for a second run of each if phases over the limit are retried.
  const planned = [...allPhases, ...(plan.retryOverLimit ? plan.phases : [])].reduce(
    (sum, phase) => sum + Math.ceil((phase.ratePerWriter * phase.durationMs) / 1000) + 1,
    0,
  );
  const index = new DeliveryIndex();
  const ids = clientIds(plan.docs.length * plan.writersPerDoc, random);
  const generateStart = performance.now();
  // Keystrokes are generated phase by phase (a ceiling run rarely reaches its last phases).
  const firstPhase = allPhases[0]!;
  const writers: WriterState[] = ids.map((clientId, i) => {
    const replay = replayFor(clientId, Math.ceil((firstPhase.ratePerWriter * firstPhase.durationMs) / 1000) + 1);
    return {
      slot: index.add(replay),
      doc: Math.floor(i / plan.writersPerDoc),
      replay,
      planned: Math.min(planned, replay.available),
      sent: 0,
      sentAt: new Float64Array(planned),
      phaseOf: new Uint8Array(planned),
      observed: new Uint8Array(planned),
      socket: null,
    };
  });
  progress(`generated the first keystrokes of ${writers.length} writers in ${Math.round(performance.now() - generateStart)} ms`);

  const tally = new Tally(plan, index, writers);
  const placement = new Placement(plan);
  // Per socket, the instance it is connected to (readers first, then writers, as opened).
  const instanceOf: number[] = [];
  const connectStart = performance.now();
  const readerCount = plan.docs.length * plan.readersPerDoc;
  const readers = await openSockets(
    readerCount,
    (i) => {
      const doc = Math.floor(i / plan.readersPerDoc);
      const instance = placement.readerInstance(doc, i % plan.readersPerDoc);
      instanceOf[i] = instance;
      const reader = tally.addReader(doc, instance === placement.writerInstance(doc) ? 'same' : 'cross');
      return new BenchSocket(placement.urls[instance]!, plan.dialect, plan.docs[doc]!, {
        onUpdate: (payload, receivedAt) => tally.onDelivery(reader, payload, receivedAt),
      });
    },
    plan.connectConcurrency,
  );
  const writerSockets = await openSockets(
    writers.length,
    (i) => {
      const instance = placement.writerInstance(writers[i]!.doc);
      instanceOf[readerCount + i] = instance;
      const socket = new BenchSocket(placement.urls[instance]!, plan.dialect, plan.docs[writers[i]!.doc]!);
      writers[i]!.socket = socket;
      return socket;
    },
    plan.connectConcurrency,
  );
  const connectMs = performance.now() - connectStart;
  if (readers.failed + writerSockets.failed > 0) {
    throw new Error(`${readers.failed} readers and ${writerSockets.failed} writers failed to sync: ${[...readers.errors, ...writerSockets.errors].join('; ')}`);
  }
  progress(`${readerCount} readers and ${writers.length} writers synced in ${Math.round(connectMs)} ms`);

  let killedAt: number | null = null;
  const phases: PhaseResult[] = [];
  let phaseNumber = 0;
  // Rates in a row over `stopWhenP99AboveMs` (see `ratesOverLimit` in plans.ts).
  let ratesOverLimit = 0;
  for (let p = 0; p < allPhases.length && killedAt === null; p++) {
    const phase = allPhases[p]!;
    const isWarmup = p < warmup.length;
    const interval = 1000 / phase.ratePerWriter;
    const offsets = writers.map(() => random() * interval);
    const startSent = writers.map((writer) => writer.sent);
    const phaseTarget = writers.map((writer, i) =>
      writer.replay.generate(Math.min(writer.planned, startSent[i]! + Math.round((phase.ratePerWriter * phase.durationMs) / 1000))),
    );
    // Generating a phase's keystrokes (a Y.Doc transaction each) leaves much garbage. Collected
    // now, while nothing is in flight, it cannot pause this process mid-phase, which would delay
    // the timestamps of whatever arrives meanwhile: a pause no server caused. The collection has
    // an after-effect of its own, which the phase's lead-in (`plan.leadInMs`) keeps out of its
    // latency: this process runs slowly for its first 100 to 200 ms.
    collectGarbage();
    const cpuBefore = cpuSeconds(plan.serverPid);
    const instanceCpuBefore = placement.cpuSeconds();
    const coreBefore = coreTicks(plan.serverCore);
    const loadCoreBefore = plan.loadCore === undefined ? null : coreTicks(plan.loadCore);
    const loadBefore = process.cpuUsage();
    const start = performance.now();
    tally.measureFrom(p, start + plan.leadInMs);
    const killTimer =
      plan.killAtMs === undefined
        ? null
        : setTimeout(() => {
            killedAt = performance.now();
            process.kill(plan.serverPid, 'SIGKILL');
          }, plan.killAtMs);
    // Send every keystroke that is due, then sleep about a millisecond.
    for (;;) {
      const now = performance.now();
      if (now - start >= phase.durationMs || killedAt !== null) break;
      for (let i = 0; i < writers.length; i++) {
        const writer = writers[i]!;
        const due = Math.min(phaseTarget[i]!, startSent[i]! + Math.floor((now - start - offsets[i]!) / interval) + 1);
        while (writer.sent < due) {
          const k = writer.sent++;
          writer.phaseOf[k] = p;
          writer.sentAt[k] = performance.now();
          writer.socket!.send(updateMessage(plan.dialect, plan.docs[writer.doc]!, writer.replay.updates[k]!));
        }
      }
      await sleep(1);
    }
    if (killTimer !== null) clearTimeout(killTimer);
    const sendMs = performance.now() - start;
    const sent = writers.reduce((sum, writer, i) => sum + writer.sent - startSent[i]!, 0);
    let drainMs = 0;
    if (killedAt === null) {
      drainMs = await tally.drain(plan.drainTimeoutMs);
    } else {
      // The server is gone: wait for every socket to notice, so every frame it sent is counted.
      // Sockets on other instances stay open: they get a second for what was already on its way.
      const sockets = [...readers.sockets, ...writerSockets.sockets];
      const onKilled = sockets.filter((_, i) => instanceOf[i] === 0);
      await Promise.race([Promise.all(onKilled.map((s) => s.closed)), sleep(5000)]);
      if (onKilled.length < sockets.length) await sleep(1000);
    }
    const serverCpu = killedAt === null ? cpuSeconds(plan.serverPid) - cpuBefore : Number.NaN;
    const instanceCpuAfter = placement.cpuSeconds();
    const loadCpu = process.cpuUsage(loadBefore);
    const coreAfter = coreTicks(plan.serverCore);
    const coreBusy = (coreAfter.busy - coreBefore.busy) / Math.max(1, coreAfter.total - coreBefore.total);
    const loadCoreAfter = plan.loadCore === undefined ? null : coreTicks(plan.loadCore);
    const loadCoreBusy =
      loadCoreBefore === null || loadCoreAfter === null
        ? undefined
        : (loadCoreAfter.busy - loadCoreBefore.busy) / Math.max(1, loadCoreAfter.total - loadCoreBefore.total);
    const counts = tally.phaseCounts(p);
    const result: PhaseResult = {
      ratePerWriter: phase.ratePerWriter,
      targetInboundPerSec: phase.ratePerWriter * writers.length,
      sendMs,
      sent,
      inboundPerSec: sent / (sendMs / 1000),
      ...counts,
      latency: tally.histogram(p).summary(),
      drainMs,
      serverCpuSeconds: serverCpu,
      serverCoreBusy: coreBusy,
      loadgenCpuSeconds: (loadCpu.user + loadCpu.system) / 1e6,
      loadgenSystemSeconds: loadCpu.system / 1e6,
      retry: phase.retry === true,
      ...(loadCoreBusy === undefined ? {} : { loadCoreBusy }),
      ...(plan.instances === undefined
        ? {}
        : {
            instanceCpuSeconds: instanceCpuAfter.map((after, i) => after - instanceCpuBefore[i]!),
            groups: { same: tally.groupResult(p, 'same'), cross: tally.groupResult(p, 'cross') },
          }),
    };
    if (!isWarmup && !phase.retry) phaseNumber++;
    phases.push(result);
    progress(
      `${isWarmup ? 'warm-up' : `phase ${phaseNumber}/${plan.phases.length}${phase.retry ? ' again' : ''}`}: ${Math.round(result.inboundPerSec)} updates/s in, ` +
        `p99 ${result.latency.p99Ms.toFixed(2)} ms, delivered ${result.delivered}/${result.expected}` +
        (result.duplicated > 0 ? `, ${result.duplicated} duplicated` : '') +
        (killedAt === null ? `, server CPU ${serverCpu.toFixed(2)} s (its core ${Math.round(coreBusy * 100)}% busy)` : ', server killed') +
        `, load generator CPU ${result.loadgenCpuSeconds.toFixed(2)} s (kernel ${result.loadgenSystemSeconds.toFixed(2)} s)`,
    );
    const failed = result.dropped > 0 || result.duplicated > 0 || result.misdelivered > 0;
    if (isWarmup && !failed) continue;
    const limit = plan.stopWhenP99AboveMs;
    if (failed) break;
    if (limit !== undefined && (result.latency.p99Ms > limit || result.drainMs > limit)) {
      if (plan.retryOverLimit && phase.retry !== true) {
        allPhases.splice(p + 1, 0, { ...phase, retry: true });
        continue;
      }
      ratesOverLimit++;
      if (ratesOverLimit >= (plan.ratesOverLimit ?? 1)) break;
    } else if (!isWarmup) {
      ratesOverLimit = 0;
    }
  }

  for (const socket of [...readers.sockets, ...writerSockets.sockets]) socket.terminate();
  const result: SteadyResult = {
    connectMs,
    readers: readerCount,
    writers: writers.length,
    warmup: warmup.length > 0 ? (phases[0] ?? null) : null,
    phases: phases.slice(warmup.length),
    killed: killedAt !== null,
    sent: writers.reduce((sum, writer) => sum + writer.sent, 0),
    observed: writers.reduce((sum, writer) => sum + writer.observed.reduce((a, b) => a + b, 0), 0),
    unknownRanges: index.unknownRanges,
    badFrames: readers.sockets.reduce((sum, socket) => sum + socket.badFrames, 0),
  };
  return { result, session: { plan, index, writers } };
}
