/**
 * Which positions of a document's log a room holds (see `Position`), so that its head says what it
 * is sure to have: with instances sharing a store, this one's write may take position 12 while
 * another's, at 11, is still on its way over the bus. The head then stays at 10 until 11 arrives:
 * a head of 12 would drop 11 as old when it came, and would let a compaction up to 12 replace an
 * update the document does not hold.
 *
 * That needs positions without gaps (a store shared over a bus that may lose messages has them,
 * see `DocumentBus.reliable`). A store that leaves gaps between one process's own writes is used
 * alone, and then the head is simply the last position stored (`contiguous` false).
 */
import type { Position } from '../../persistence/document-store.js';

export class HeldPositions {
  /** Ranges held past `head + 1`, in order, apart from each other: [first, last]. */
  private readonly ahead: Array<[Position, Position]> = [];
  private current: Position;

  constructor(
    head: Position,
    private readonly contiguous: boolean,
  ) {
    this.current = head;
  }

  /** Every position up to it is held. */
  get head(): Position {
    return this.current;
  }

  /** Positions `first` to `last` are held (an own write: `first` is `last` less its updates, plus one). */
  add(first: Position, last: Position): void {
    if (last <= this.current) return;
    if (!this.contiguous || first <= this.current + 1) {
      this.current = last;
      this.absorb();
      return;
    }
    let i = this.ahead.findIndex(([from]) => from > first);
    if (i === -1) i = this.ahead.length;
    this.ahead.splice(i, 0, [first, last]);
    // Merge neighbours that touch or overlap.
    for (let k = Math.max(0, i - 1); k + 1 < this.ahead.length; ) {
      const [a, b] = [this.ahead[k]!, this.ahead[k + 1]!];
      if (b[0] <= a[1] + 1) {
        a[1] = Math.max(a[1], b[1]);
        this.ahead.splice(k + 1, 1);
      } else if (k >= i) break;
      else k++;
    }
  }

  /** Every position up to `last` is held (updates heard on the bus, or read from the store, after the head). */
  addUpTo(last: Position): void {
    this.add(Math.min(this.current + 1, last), last);
  }

  /** Moves the head over the ranges it now reaches. */
  private absorb(): void {
    while (this.ahead.length > 0 && this.ahead[0]![0] <= this.current + 1) {
      this.current = Math.max(this.current, this.ahead.shift()![1]);
    }
  }
}
