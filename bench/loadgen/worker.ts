/**
 * The load generator process: pinned to its own core, it runs what the orchestrator asks over the
 * IPC channel (one request at a time) and answers with plain results. Progress lines go back as
 * `{ progress }` messages so the orchestrator prints them in order with its own.
 */
import { firstSyncs, keystrokeBytes } from './bandwidth.js';
import { fetchFullState, replayTrace } from './cold-load.js';
import { closeIdle, idleStillOpen, openIdle } from './idle.js';
import type { FetchPlan, FirstSyncPlan, IdlePlan, KeystrokeBytesPlan, ReplayPlan, SteadyPlan, VerifyPlan } from './plans.js';
import { runSteady, type SteadySession } from './steady.js';
import { verifySession } from './verify.js';

export interface Request {
  id: number;
  method: string;
  params: unknown;
}

const sessions = new Map<string, SteadySession>();
const replayed = new Map<string, number>();

const progress = (line: string): void => {
  process.send?.({ progress: line });
};

const handlers: Record<string, (params: never) => Promise<unknown>> = {
  steady: async (plan: SteadyPlan) => {
    const { result, session } = await runSteady(plan, progress);
    if (plan.session !== undefined) sessions.set(plan.session, session);
    return result;
  },
  verify: async (plan: VerifyPlan) => {
    const session = sessions.get(plan.session);
    if (session === undefined) throw new RangeError(`no session ${plan.session}`);
    sessions.delete(plan.session);
    return await verifySession(session, plan);
  },
  replay: async (plan: ReplayPlan) => {
    const result = await replayTrace(plan, progress);
    replayed.set(plan.doc, result.keystrokes);
    return result;
  },
  fetch: async (plan: FetchPlan) => await fetchFullState(plan, replayed.get(plan.doc) ?? 0),
  firstSyncs: async (plan: FirstSyncPlan) => await firstSyncs(plan),
  keystrokeBytes: async (plan: KeystrokeBytesPlan) => await keystrokeBytes(plan),
  openIdle: async (plan: IdlePlan) => await openIdle(plan, progress),
  idleStillOpen: async () => idleStillOpen(),
  closeIdle: async () => await closeIdle(),
};

let queue = Promise.resolve();
process.on('message', (request: Request) => {
  queue = queue.then(async () => {
    const handler = handlers[request.method];
    try {
      if (handler === undefined) throw new RangeError(`unknown method ${request.method}`);
      const result = await handler(request.params as never);
      process.send?.({ id: request.id, result });
    } catch (error) {
      process.send?.({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
