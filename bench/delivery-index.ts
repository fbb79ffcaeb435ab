/**
 * Maps a delivered update payload to the keystrokes it carries, as (writer slot, keystroke index)
 * pairs. Every reader of a room receives the same bytes, so the answer is cached by the bytes
 * themselves: a room with hundreds of readers decodes each update once, not once per reader.
 */
import { forEachRange } from './update-ranges.js';
import type { TypingReplay } from './typing.js';

/** Pairs `[slot0, k0, slot1, k1, ...]`. */
export type KeystrokeRefs = Int32Array;

const cacheLimit = 50_000;

export class DeliveryIndex {
  private readonly bySlot: TypingReplay[] = [];
  private readonly slotByClient = new Map<number, number>();
  private readonly cache = new Map<string, KeystrokeRefs>();
  /** Ranges that belong to no registered keystroke (should stay 0). */
  unknownRanges = 0;

  /** Registers a writer; returns its slot. */
  add(replay: TypingReplay): number {
    const slot = this.bySlot.length;
    this.bySlot.push(replay);
    this.slotByClient.set(replay.clientId, slot);
    return slot;
  }

  writer(slot: number): TypingReplay {
    const replay = this.bySlot[slot];
    if (replay === undefined) throw new RangeError(`no writer in slot ${slot}`);
    return replay;
  }

  get writerCount(): number {
    return this.bySlot.length;
  }

  /** The keystrokes a payload carries (cached by its bytes; do not mutate the result). */
  resolve(payload: Buffer): KeystrokeRefs {
    const key = payload.toString('latin1');
    let refs = this.cache.get(key);
    if (refs === undefined) {
      refs = this.decode(payload);
      if (this.cache.size >= cacheLimit) this.cache.clear();
      this.cache.set(key, refs);
    }
    return refs;
  }

  /**
   * Calls `visit(slot, k, clocks)` for every keystroke clock range in `update`: `clocks` is how many
   * of keystroke k's clocks the range covers. Used to check which keystrokes a full state holds.
   */
  forEachClock(update: Uint8Array, visit: (slot: number, clock: number, deleted: boolean) => void): void {
    forEachRange(update, (client, clock, length, deleted) => {
      const slot = this.slotByClient.get(client);
      if (slot === undefined) {
        this.unknownRanges++;
        return;
      }
      for (let c = clock; c < clock + length; c++) visit(slot, c, deleted);
    });
  }

  private decode(payload: Uint8Array): KeystrokeRefs {
    const refs: number[] = [];
    let lastSlot = -1;
    let lastK = -1;
    this.forEachClock(payload, (slot, clock, deleted) => {
      const replay = this.bySlot[slot]!;
      const k = (deleted ? replay.deleteOwner : replay.insertOwner)[clock];
      if (k === undefined) {
        this.unknownRanges++;
        return;
      }
      if (slot === lastSlot && k === lastK) return;
      // A keystroke's clocks are contiguous within a range, but a keystroke that inserts and deletes
      // appears twice: skip it if it is already listed.
      for (let i = 0; i < refs.length; i += 2) if (refs[i] === slot && refs[i + 1] === k) return;
      refs.push(slot, k);
      lastSlot = slot;
      lastK = k;
    });
    return Int32Array.from(refs);
  }
}
