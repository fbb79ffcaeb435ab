/**
 * Whether the server should be sent traffic, for a load balancer's readiness check (`/readyz`):
 * not while it starts, not once it drains to stop, and not while its store takes nothing. The
 * health check (`/healthz`) says whether it works; this says whether to route to it.
 */
import { type DocumentStore, StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';

/**
 * Where the server stands: `ready`, or why not: `starting` (not listening yet), `draining`
 * (stopping: it takes no new connections and finishes what it holds), `degraded` (the store
 * takes nothing for a while and recovers on its own), `failing` (the store failed for good; only a
 * restart recovers).
 */
export type ReadinessState = 'ready' | 'starting' | 'draining' | 'degraded' | 'failing';

/** The readiness of one server (see the top of this file). */
export class Readiness {
  private listening = false;
  private draining = false;
  private storeFailure: StoreWriteError | null = null;

  /** Follows `store`'s failures and recoveries; starts `starting`. */
  constructor(store: DocumentStore) {
    store.onFailure((error) => {
      this.storeFailure = error;
    });
    store.onRecovery(() => {
      this.storeFailure = null;
    });
  }

  /** The server listens, on an open store: ready, unless it drains or the store fails. */
  listened(): void {
    this.listening = true;
  }

  /** The server began to stop: never ready again. */
  drain(): void {
    this.draining = true;
  }

  get state(): ReadinessState {
    if (this.draining) return 'draining';
    if (!this.listening) return 'starting';
    if (this.storeFailure !== null) return this.storeFailure instanceof StoreUnavailableError ? 'degraded' : 'failing';
    return 'ready';
  }

  /** Why the server is not ready, in a sentence; null when it is. */
  get reason(): string | null {
    const state = this.state;
    if (state === 'ready') return null;
    if (state === 'starting') return 'the server is starting: it does not listen yet';
    if (state === 'draining') return 'the server is stopping: it finishes what it holds and takes nothing new';
    // The store's own words, as /healthz gives them.
    if (state === 'degraded') return this.storeFailure?.message ?? 'the store is unavailable';
    return `${this.storeFailure?.message ?? 'the store failed'}; restart the server`;
  }
}
