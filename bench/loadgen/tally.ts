/**
 * The delivery ledger of a steady run: which reader received which keystroke, when, and how often.
 */
import type { BenchSocket } from '../bench-socket.js';
import type { DeliveryIndex } from '../delivery-index.js';
import { LatencyHistogram } from '../histogram.js';
import { sleep } from '../proc.js';
import type { TypingReplay } from '../typing.js';
import type { GroupResult, ReaderGroup, SteadyPlan } from './plans.js';

export interface WriterState {
  slot: number;
  /** Index of the writer's room in `plan.docs`. */
  doc: number;
  replay: TypingReplay;
  /** Keystrokes available to send. */
  planned: number;
  sent: number;
  /** performance.now() when keystroke k was sent. */
  sentAt: Float64Array;
  /** The phase keystroke k was sent in. */
  phaseOf: Uint8Array;
  /** 1 once any reader received keystroke k. */
  observed: Uint8Array;
  socket: BenchSocket | null;
}

interface ReaderState {
  doc: number;
  group: ReaderGroup;
  /** Per writer slot of the reader's room: 1 where keystroke k was received. */
  seen: Map<number, Uint8Array>;
}

export interface DeliveryCounts {
  expected: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  misdelivered: number;
}

export class Tally {
  private readonly readers: ReaderState[] = [];
  private readonly histograms: LatencyHistogram[] = [];
  private readonly delivered: number[] = [];
  private readonly duplicated: number[] = [];
  /** Per phase: latency is recorded for keystrokes sent from this time on (see `SteadyPlan.leadInMs`). */
  private readonly measuredFrom: number[] = [];
  /** Per reader group: per phase, deliveries and latency; per room, its readers in the group. */
  private readonly groups = {
    same: { delivered: [] as number[], duplicated: [] as number[], histograms: [] as LatencyHistogram[], roomReaders: new Map<number, number>() },
    cross: { delivered: [] as number[], duplicated: [] as number[], histograms: [] as LatencyHistogram[], roomReaders: new Map<number, number>() },
  };
  private misdelivered = 0;
  private deliveredTotal = 0;
  private lastDeliveryAt = 0;

  constructor(
    private readonly plan: SteadyPlan,
    private readonly index: DeliveryIndex,
    private readonly writers: WriterState[],
  ) {}

  /**
   * Registers a reader of room `doc`, on its writers' instance (`same`, the only group with one
   * server) or another (`cross`); returns its handle for `onDelivery`.
   */
  addReader(doc: number, group: ReaderGroup = 'same'): ReaderState {
    const seen = new Map<number, Uint8Array>();
    for (const writer of this.writers) if (writer.doc === doc) seen.set(writer.slot, new Uint8Array(writer.planned));
    const roomReaders = this.groups[group].roomReaders;
    roomReaders.set(doc, (roomReaders.get(doc) ?? 0) + 1);
    const reader = { doc, group, seen };
    this.readers.push(reader);
    return reader;
  }

  /** Records the latency of phase `phase`'s keystrokes sent at `time` (performance.now()) or later only. */
  measureFrom(phase: number, time: number): void {
    this.measuredFrom[phase] = time;
  }

  histogram(phase: number): LatencyHistogram {
    let histogram = this.histograms[phase];
    if (histogram === undefined) {
      histogram = new LatencyHistogram();
      this.histograms[phase] = histogram;
    }
    return histogram;
  }

  onDelivery(reader: ReaderState, payload: Buffer, receivedAt: number): void {
    const refs = this.index.resolve(payload);
    this.lastDeliveryAt = receivedAt;
    for (let i = 0; i < refs.length; i += 2) {
      const slot = refs[i]!;
      const k = refs[i + 1]!;
      const seen = reader.seen.get(slot);
      if (seen === undefined) {
        this.misdelivered++;
        continue;
      }
      const writer = this.writers[slot]!;
      const phase = writer.phaseOf[k]!;
      const group = this.groups[reader.group];
      if (seen[k] === 1) {
        this.duplicated[phase] = (this.duplicated[phase] ?? 0) + 1;
        group.duplicated[phase] = (group.duplicated[phase] ?? 0) + 1;
        continue;
      }
      seen[k] = 1;
      writer.observed[k] = 1;
      this.deliveredTotal++;
      this.delivered[phase] = (this.delivered[phase] ?? 0) + 1;
      group.delivered[phase] = (group.delivered[phase] ?? 0) + 1;
      const sentAt = writer.sentAt[k]!;
      if (sentAt >= (this.measuredFrom[phase] ?? 0)) {
        this.histogram(phase).record(receivedAt - sentAt);
        (group.histograms[phase] ??= new LatencyHistogram()).record(receivedAt - sentAt);
      }
    }
  }

  /** Deliveries owed so far: every keystroke sent, once to each reader of its room. */
  expectedTotal(): number {
    return this.writers.reduce((sum, writer) => sum + writer.sent, 0) * this.plan.readersPerDoc;
  }

  /**
   * Waits until every owed delivery arrived, or until none arrived for `quietMs`. Returns how long
   * it waited.
   */
  async drain(quietMs: number): Promise<number> {
    const start = performance.now();
    this.lastDeliveryAt = Math.max(this.lastDeliveryAt, start);
    while (this.deliveredTotal < this.expectedTotal() && performance.now() - this.lastDeliveryAt < quietMs) await sleep(5);
    return performance.now() - start;
  }

  /**
   * One reader group's deliveries in phase `phase`: every keystroke sent in it, once to each
   * reader of the group in its room. Misdeliveries are counted for the run, not per group.
   */
  groupResult(phase: number, name: ReaderGroup): GroupResult {
    const group = this.groups[name];
    let expected = 0;
    for (const writer of this.writers) {
      const readers = group.roomReaders.get(writer.doc) ?? 0;
      for (let k = 0; k < writer.sent; k++) if (writer.phaseOf[k] === phase) expected += readers;
    }
    const delivered = group.delivered[phase] ?? 0;
    return {
      readers: [...group.roomReaders.values()].reduce((a, b) => a + b, 0),
      expected,
      delivered,
      dropped: expected - delivered,
      duplicated: group.duplicated[phase] ?? 0,
      misdelivered: 0,
      latency: (group.histograms[phase] ?? new LatencyHistogram()).summary(),
    };
  }

  phaseCounts(phase: number): DeliveryCounts {
    let sent = 0;
    for (const writer of this.writers) for (let k = 0; k < writer.sent; k++) if (writer.phaseOf[k] === phase) sent++;
    const expected = sent * this.plan.readersPerDoc;
    const delivered = this.delivered[phase] ?? 0;
    return {
      expected,
      delivered,
      dropped: expected - delivered,
      duplicated: this.duplicated[phase] ?? 0,
      misdelivered: this.misdelivered,
    };
  }
}
