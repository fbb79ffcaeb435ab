/**
 * What happens to documents, for those who follow it from outside the engine (webhooks): the
 * engine tells them once the store has it, from the room where it happened.
 */

/** A follower of document events; see `SyncEngine`'s `events` option. */
export interface DocumentEvents {
  /**
   * Updates written here (by a connection or over HTTP) are stored in `name`. `created` is true
   * for the first stored write of a document that did not exist: never written, or deleted since.
   * Called for every stored batch, so it must be cheap; never throws.
   */
  edited(name: string, created: boolean): void;

  /** `name` was deleted (the store has it). The deletion is answered once this resolves; never rejects. */
  deleted(name: string): Promise<void>;
}
