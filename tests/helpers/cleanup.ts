/** What a test leaves behind (clients, servers, data directories), undone after each test. */
import { afterEach } from 'vitest';

/**
 * Call at the top level of a test file: returns the list to push undo steps to. After each test
 * they run last added first, each awaited, so clients go before the server they talk to and the
 * server before its data directory.
 */
export function cleanupAfterEach(): Array<() => unknown> {
  const steps: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return steps;
}
