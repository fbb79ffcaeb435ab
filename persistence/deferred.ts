/** A promise with its settling functions, for work that settles elsewhere (a write queue, a group commit). */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A new pending `Deferred`. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A deferred whose rejection is not reported as unhandled: a store's own bookkeeping, awaited by
 * `flush` or `close` if at all. What a caller is handed must be a promise of its own, so that a
 * failure nobody handles is still reported.
 */
export function handledDeferred<T = void>(): Deferred<T> {
  const result = deferred<T>();
  result.promise.catch(() => undefined);
  return result;
}

/** Runs `body`, turning a synchronous throw (a broken contract) into a rejected promise. */
export function attempt<T>(body: () => Promise<T>): Promise<T> {
  try {
    return body();
  } catch (error) {
    return Promise.reject(error);
  }
}
