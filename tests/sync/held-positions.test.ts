/**
 * The positions a room holds: with instances sharing a store, its own write can land past
 * positions still on their way over the bus, and its head must not jump them.
 */
import { describe, expect, it } from 'vitest';
import { HeldPositions } from '../../server/sync/held-positions.js';
import { seededRandom, testSeed } from '../helpers/clients.js';

describe('held positions', () => {
  it('keep the head below a gap until it is filled, from either side', () => {
    const held = new HeldPositions(10, true);
    held.add(12, 12);
    expect(held.head).toBe(10);
    held.add(15, 16);
    held.add(14, 14);
    expect(held.head).toBe(10);
    held.addUpTo(11);
    expect(held.head).toBe(12);
    held.add(13, 13);
    expect(held.head).toBe(16);
    held.add(3, 5);
    expect(held.head).toBe(16);
  });

  it('reach the last position of any order of arrival, and never a position not held', () => {
    const random = seededRandom(testSeed('held positions'));
    for (let trial = 0; trial < 200; trial++) {
      // Positions 1..n cut into batches, held in a random order.
      const batches: Array<[number, number]> = [];
      for (let first = 1; first <= 60; ) {
        const last = first + Math.floor(random() * 4);
        batches.push([first, last]);
        first = last + 1;
      }
      batches.sort(() => random() - 0.5);
      const held = new HeldPositions(0, true);
      const have = new Set<number>();
      for (const [first, last] of batches) {
        held.add(first, last);
        for (let p = first; p <= last; p++) have.add(p);
        for (let p = 1; p <= held.head; p++) expect(have.has(p)).toBe(true);
      }
      expect(held.head).toBe(batches.reduce((max, [, last]) => Math.max(max, last), 0));
    }
  });

  it('take the last position as the head for a store that leaves gaps (used alone)', () => {
    const held = new HeldPositions(0, false);
    held.add(5, 5);
    held.add(9, 9);
    expect(held.head).toBe(9);
  });
});
