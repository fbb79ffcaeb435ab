/**
 * The answer to a request the store could not serve: 503, with whether to try again shortly (an
 * outage that passes) or to restart the server (a failure for good).
 */
import { StoreUnavailableError, StoreWriteError } from '../../persistence/document-store.js';
import { HttpError } from '../errors.js';

/** Rethrows `error`, a store's refusal turned into `HttpError(503)`. */
export function storeRefusal(error: unknown): never {
  if (error instanceof StoreUnavailableError) throw new HttpError(503, 'storage-unavailable', 'the store is unavailable for now; try again shortly');
  if (error instanceof StoreWriteError) throw new HttpError(503, 'storage-failed', 'the store failed; the server must be restarted');
  throw error;
}
