/**
 * A store's availability on its own (`persistence/availability.ts`), on a fake clock so that the
 * waits between attempts to recover can be read exactly: what the listeners hear, when attempts
 * are made, and when the store gives up. The stores' own tests meet it with real failures.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RETRY_FIRST_MS, RETRY_MAX_MS, StoreAvailability } from '../../persistence/availability.js';
import { StoreUnavailableError, StoreWriteError } from '../../persistence/document-store.js';

/** An error that can pass, and one that cannot, as the store's `canPass` tells them. */
const passing = new Error('no space left, for now');
const lasting = new Error('the disk is gone');

/** An availability whose attempts to recover take `outcomes` in turn (an error, or success), and what it told. */
function subject(outcomes: Array<Error | null>) {
  const attempts: number[] = [];
  const failures: StoreWriteError[] = [];
  let recoveries = 0;
  const availability = new StoreAvailability(
    async () => {
      attempts.push(Date.now());
      const outcome = outcomes.shift();
      if (outcome === undefined) throw new Error('more attempts than the test expected');
      if (outcome !== null) throw outcome;
    },
    (error) => error === passing,
  );
  availability.onFailure((error) => failures.push(error));
  availability.onRecovery(() => recoveries++);
  return { availability, attempts, failures, recoveries: () => recoveries };
}

const outage = (): StoreUnavailableError => new StoreUnavailableError('The store is unavailable: test');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('StoreAvailability', () => {
  it('tries to recover 100 ms after an outage, twice as late after each failed attempt up to 5 s, and says once when it is back', async () => {
    const { availability, attempts, failures, recoveries } = subject([passing, passing, passing, passing, passing, passing, passing, passing, null]);
    const start = Date.now();
    const error = outage();
    availability.suspend(error);
    availability.suspend(outage()); // a second failed write of the same outage
    // Told on a later microtask, never from inside the call to the store that failed.
    expect(failures).toEqual([]);
    await Promise.resolve();
    expect(failures).toEqual([error]);
    expect(availability.failure).toBe(error);
    expect(availability.unavailable).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    const waits = attempts.map((time, i) => time - (i === 0 ? start : attempts[i - 1]!));
    expect(waits).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(RETRY_FIRST_MS).toBe(100);
    expect(RETRY_MAX_MS).toBe(5000);
    expect(recoveries()).toBe(1);
    expect(availability.failure).toBeNull();
    expect(failures).toHaveLength(1);
  });

  it('fails for good when an attempt meets an error that does not pass, and tries no more', async () => {
    const { availability, attempts, failures, recoveries } = subject([passing, lasting]);
    availability.suspend(outage());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(2);
    expect(failures).toHaveLength(2);
    expect(failures[1]).not.toBeInstanceOf(StoreUnavailableError);
    expect(failures[1]!.message).toMatch(/^The store failed: /);
    expect(failures[1]!.cause).toBe(lasting);
    expect(availability.failure).toBe(failures[1]);
    expect(availability.unavailable).toBe(false);
    expect(recoveries()).toBe(0);
    // Failed for good, it is no longer suspended by an outage.
    availability.suspend(outage());
    expect(availability.failure).toBe(failures[1]);
  });

  it('fails for good over an outage, from a failure that leaves data in doubt, and stops trying', async () => {
    const { availability, attempts, failures } = subject([]);
    availability.suspend(outage());
    const doubt = new StoreWriteError('The store failed: the journal could not be synced to disk');
    availability.fail(doubt);
    availability.fail(new StoreWriteError('again'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(0);
    expect(failures.slice(1)).toEqual([doubt]);
    expect(availability.failure).toBe(doubt);
  });

  it('resumes the waits where they were for an outage soon after a recovery, and starts over 30 s later', async () => {
    const { availability, attempts } = subject([passing, passing, null, passing, null, null]);
    let start = Date.now();
    availability.suspend(outage());
    await vi.advanceTimersByTimeAsync(1_000); // attempts after 100, 200 and 400 ms: back at 700 ms
    expect(attempts.map((time) => time - start)).toEqual([100, 300, 700]);
    start = Date.now();
    availability.suspend(outage());
    await vi.advanceTimersByTimeAsync(3_000);
    expect(attempts.slice(3).map((time) => time - start)).toEqual([800, 2400]);
    await vi.advanceTimersByTimeAsync(30_000);
    start = Date.now();
    availability.suspend(outage());
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts.slice(5).map((time) => time - start)).toEqual([100]);
  });

  it('stops trying once stopped, and waits for an attempt under way', async () => {
    let finish: () => void = () => undefined;
    const availability = new StoreAvailability(
      () => new Promise<void>((resolve) => (finish = resolve)),
      () => true,
    );
    availability.suspend(outage());
    await vi.advanceTimersByTimeAsync(RETRY_FIRST_MS);
    let stopped = false;
    const stopping = availability.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    // The attempt under way succeeded: the store closes as one that works.
    expect(availability.failure).toBeNull();

    const { availability: other, attempts } = subject([]);
    other.suspend(outage());
    await other.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(0);
    expect(other.unavailable).toBe(true);
  });
});
