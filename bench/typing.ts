/**
 * A writer's keystrokes: a real Y.Doc replays a trace, one transaction per trace transaction, and
 * every resulting Yjs update is kept, with the index of which keystroke owns which Yjs clock.
 *
 * The writer's doc never applies anyone else's updates, so every item it inserts and every item it
 * deletes has its own client id: a keystroke is identified by the (client, clock) ranges its update
 * inserts or deletes, whatever frame (or merged frame) the server delivers it in. Nothing is
 * embedded in the updates.
 *
 * A replay may also put several consecutive keystrokes in each transaction (`keystrokesPerUpdate`),
 * to store a long document in fewer messages: "keystroke" k below is then update k. The document
 * the updates build is the same, byte for byte, as one keystroke per update builds: Yjs merges the
 * same items either way (checked for the B4 trace at 100 and 1,000 keystrokes per update; the
 * bandwidth scenario relies on it).
 */
import * as Y from 'yjs';
import { forEachRange } from './update-ranges.js';
import type { EditingTrace } from './trace.js';

export class TypingReplay {
  readonly clientId: number;
  /** The encoded Yjs update of keystroke (or batch of keystrokes) `k`. */
  readonly updates: Uint8Array[] = [];
  /** Clock of an inserted item -> the keystroke that inserted it. */
  readonly insertOwner: number[] = [];
  /** Clock of a deleted item -> the keystroke that deleted it. */
  readonly deleteOwner: number[] = [];
  /** How many clocks (inserted plus deleted) keystroke `k` owns. */
  readonly clockCount: number[] = [];
  private readonly doc: Y.Doc;
  private readonly text: Y.Text;
  private nextTxn = 0;

  constructor(
    private readonly trace: EditingTrace,
    clientId: number,
    /** Trace transactions per update: 1 for typing, more to store a document in fewer messages. */
    readonly keystrokesPerUpdate = 1,
  ) {
    this.clientId = clientId;
    this.doc = new Y.Doc({ gc: true });
    this.doc.clientID = clientId;
    this.text = this.doc.getText('text');
  }

  /** Number of updates the trace makes in all (its keystrokes, with one keystroke per update). */
  get available(): number {
    return Math.ceil(this.trace.txns.length / this.keystrokesPerUpdate);
  }

  /** Trace transactions the updates generated so far hold. */
  get keystrokes(): number {
    return this.nextTxn;
  }

  /** The text the writer's doc holds after the keystrokes generated so far. */
  content(): string {
    return this.text.toString();
  }

  /** Generates keystrokes (updates) until `count` exist (or the trace ends). Returns how many exist. */
  generate(count: number): number {
    const target = Math.min(count, this.available);
    let captured: Uint8Array | null = null;
    const onUpdate = (update: Uint8Array): void => {
      captured = update;
    };
    this.doc.on('update', onUpdate);
    try {
      while (this.updates.length < target && this.nextTxn < this.trace.txns.length) {
        const end = Math.min(this.trace.txns.length, this.nextTxn + this.keystrokesPerUpdate);
        captured = null;
        this.doc.transact(() => {
          for (; this.nextTxn < end; this.nextTxn++) {
            for (const [position, deleted, inserted] of this.trace.txns[this.nextTxn]!) {
              if (deleted > 0) this.text.delete(position, deleted);
              if (inserted.length > 0) this.text.insert(position, inserted);
            }
          }
        });
        if (captured === null) continue; // a no-op transaction: not a keystroke
        this.register(captured);
      }
    } finally {
      this.doc.off('update', onUpdate);
    }
    return this.updates.length;
  }

  private register(update: Uint8Array): void {
    const k = this.updates.length;
    let clocks = 0;
    forEachRange(update, (client, clock, length, deleted) => {
      if (client !== this.clientId) throw new RangeError(`keystroke ${k} touches client ${client}`);
      const owner = deleted ? this.deleteOwner : this.insertOwner;
      for (let c = clock; c < clock + length; c++) owner[c] = k;
      clocks += length;
    });
    this.updates.push(update);
    this.clockCount.push(clocks);
  }
}
