/**
 * Which server instances are alive, for instances that share one store (scale-out on PostgreSQL):
 * each delivers the webhook events it queued, and the events of an instance that died are taken
 * over by one of the others, so that they are neither forgotten nor sent by every instance.
 *
 * Each instance keeps a record of its own in the event queue, `webhook-instance/<id>`, saying
 * until when it is alive, written again every `heartbeatMs` for three times that, and removed when
 * it stops. An event whose owner has no live record may be taken over: the taker rewrites it with
 * itself as owner, on the condition that its revision is still the one it read (compare-and-set),
 * so exactly one taker wins it. An instance that is slow to beat may lose events it still holds:
 * both then send them, which at-least-once allows; nothing is lost.
 */
import type { EventQueue } from '../../persistence/event-queue.js';
import type { Logger } from '../logger.js';
import { newId } from './event.js';

/** The prefix of the instances' records in the event queue. */
export const INSTANCE_PREFIX = 'webhook-instance/';

/** How often an instance says it is alive. */
export interface InstanceTiming {
  readonly heartbeatMs: number;
}

/** This instance among those sharing a store (see the top of this file). */
export class Instances {
  private timer: NodeJS.Timeout | null = null;
  private revision: string | null = null;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    readonly self: string,
    private readonly store: EventQueue,
    private readonly logger: Logger,
    private readonly timing: InstanceTiming,
  ) {}

  /** Writes this instance's record now and every `heartbeatMs`; resolves once the first is written (or could not be). */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.beat(), this.timing.heartbeatMs);
    this.timer.unref();
    return this.beat();
  }

  /**
   * The ids of the instances alive now, this one included. Records of instances dead for a while
   * (ten heartbeats past their time) are removed on the way.
   */
  async alive(): Promise<Set<string>> {
    const alive = new Set([this.self]);
    const now = Date.now();
    for (let after: string | undefined; ; ) {
      const page = await this.store.listEvents({ prefix: INSTANCE_PREFIX, limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const record of page) {
        const until = aliveUntil(record.data);
        const id = record.key.slice(INSTANCE_PREFIX.length);
        if (until > now) alive.add(id);
        else if (until < now - 10 * this.timing.heartbeatMs && id !== this.self) await this.store.removeEvent(record.key, record.revision);
      }
      if (page.length < 1000) return alive;
      after = page.at(-1)!.key;
    }
  }

  /** Stops beating and removes this instance's record: its events are taken over at once. */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.beating;
    if (this.revision !== null) await this.store.removeEvent(INSTANCE_PREFIX + this.self, this.revision).catch(() => undefined);
  }

  private beat(): Promise<void> {
    this.beating = this.beating.then(async () => {
      const revision = newId();
      const data = new TextEncoder().encode(JSON.stringify({ aliveUntil: Date.now() + 3 * this.timing.heartbeatMs }));
      try {
        await this.store.putEvent({ key: INSTANCE_PREFIX + this.self, revision, data });
        this.revision = revision;
      } catch (error) {
        this.logger.warn({ err: error }, 'could not record that this instance is alive: other instances may take its webhook events over and send them too');
      }
    });
    return this.beating;
  }
}

/** When an instance record says its instance stops being alive; 0 if it says nothing readable. */
function aliveUntil(data: Uint8Array): number {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as { aliveUntil?: unknown };
    return typeof value.aliveUntil === 'number' ? value.aliveUntil : 0;
  } catch {
    return 0;
  }
}
