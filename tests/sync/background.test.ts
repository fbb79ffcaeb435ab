/**
 * The queue that rooms' compactions wait in: tasks run in order, in a later turn of the event loop,
 * and a turn's budget spent lets whatever else is waiting (I/O, other callbacks) run before the rest.
 */
import { describe, expect, it } from 'vitest';
import { BackgroundQueue } from '../../server/sync/background.js';

/** Resolves after the callbacks queued with `setImmediate` so far have run, and one more turn. */
function turns(count: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number): void => {
      if (left === 0) resolve();
      else setImmediate(() => step(left - 1));
    };
    step(count);
  });
}

describe('BackgroundQueue', () => {
  it('runs tasks in the order added, never within the call that adds them', async () => {
    const ran: string[] = [];
    const queue = new BackgroundQueue(1_000, (error) => {
      throw error;
    });
    queue.add(() => ran.push('a'));
    queue.add(() => ran.push('b'));
    queue.add(() => ran.push('c'));
    expect(ran).toEqual([]);
    expect(queue.size).toBe(3);
    await turns(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('with its budget spent, leaves the rest for a later turn, letting other callbacks run between', async () => {
    const ran: string[] = [];
    const queue = new BackgroundQueue(0, (error) => {
      throw error;
    });
    for (const name of ['fold 1', 'fold 2', 'fold 3']) queue.add(() => ran.push(name));
    // Queued after the folds, as a socket read arriving meanwhile would be.
    setImmediate(() => ran.push('read'));
    await turns(4);
    expect(ran).toEqual(['fold 1', 'read', 'fold 2', 'fold 3']);
  });

  it('runs a task added by a task in a later turn, not in the same one', async () => {
    const ran: string[] = [];
    const queue = new BackgroundQueue(1_000, (error) => {
      throw error;
    });
    queue.add(() => {
      ran.push('first');
      queue.add(() => ran.push('added by first'));
    });
    queue.add(() => ran.push('second'));
    setImmediate(() => ran.push('read'));
    await turns(3);
    expect(ran).toEqual(['first', 'second', 'read', 'added by first']);
  });

  it('reports a task that throws, and still runs the tasks after it', async () => {
    const ran: string[] = [];
    const errors: unknown[] = [];
    const queue = new BackgroundQueue(1_000, (error) => errors.push(error));
    queue.add(() => ran.push('before'));
    queue.add(() => {
      throw new RangeError('the fold broke');
    });
    queue.add(() => ran.push('after'));
    await turns(2);
    expect(ran).toEqual(['before', 'after']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('the fold broke');
  });
});
