/** What a test leaves behind (clients, servers, data directories), undone after each test. */
import { afterEach } from 'vitest';

/** The undo steps of a test file: push a step, or `track` a client to destroy. */
export type Cleanup = Array<() => unknown> & {
  /** Destroys `client` after the test; returns it. */
  track<T extends { destroy(): void }>(client: T): T;
};

/**
 * Call at the top level of a test file: returns the list to push undo steps to. After each test
 * they run last added first, each awaited, so clients go before the server they talk to and the
 * server before its data directory.
 */
export function cleanupAfterEach(): Cleanup {
  const steps = Object.assign([] as Array<() => unknown>, {
    track<T extends { destroy(): void }>(client: T): T {
      steps.push(() => client.destroy());
      return client;
    },
  });
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return steps;
}
