/**
 * A writer's keystrokes: a real Y.Doc replays a trace, one transaction per trace transaction, and
 * every resulting Yjs update is kept, with the index of which keystroke owns which Yjs clock.
 *
 * The writer's doc never applies anyone else's updates, so every item it inserts and every item it
 * deletes has its own client id: a keystroke is identified by the (client, clock) ranges its update
 * inserts or deletes, whatever frame (or merged frame) the server delivers it in. Nothing is
 * embedded in the updates.
 */
import * as Y from 'yjs';
import { forEachRange } from './update-ranges.js';
import type { EditingTrace } from './trace.js';

export class TypingReplay {
  readonly clientId: number;
  /** The encoded Yjs update of keystroke `k`. */
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
  ) {
    this.clientId = clientId;
    this.doc = new Y.Doc({ gc: true });
    this.doc.clientID = clientId;
    this.text = this.doc.getText('text');
  }

  /** Number of keystrokes the trace holds in all. */
  get available(): number {
    return this.trace.txns.length;
  }

  /** The text the writer's doc holds after the keystrokes generated so far. */
  content(): string {
    return this.text.toString();
  }

  /** Generates keystrokes until `count` exist (or the trace ends). Returns how many exist. */
  generate(count: number): number {
    const target = Math.min(count, this.trace.txns.length);
    let captured: Uint8Array | null = null;
    const onUpdate = (update: Uint8Array): void => {
      captured = update;
    };
    this.doc.on('update', onUpdate);
    try {
      while (this.updates.length < target) {
        const patches = this.trace.txns[this.nextTxn++]!;
        captured = null;
        this.doc.transact(() => {
          for (const [position, deleted, inserted] of patches) {
            if (deleted > 0) this.text.delete(position, deleted);
            if (inserted.length > 0) this.text.insert(position, inserted);
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
