/**
 * `OfflineCache`: the browser's copy of a document (y-indexeddb), and beside it the state the
 * server was last known to hold. A page opened offline knows from it which of its cached changes
 * never reached the server; one opened after the document was deleted and created again knows
 * that its copy is of the deleted document (see `holdsNoneOf`). Dropped whole when the document
 * is deleted.
 */
import * as encoding from 'lib0/encoding';
import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import type { StateVector } from './status.js';

/** Key, in the cache's metadata, of the state the server was last known to hold. */
const STORED_KEY = 'server-stored-state-vector';

export class OfflineCache {
  private readonly persistence: IndexeddbPersistence;
  /** Whether a write of the stored state is in flight, and whether another is due after it. */
  private remembering: 'idle' | 'writing' | 'writing-then-again' = 'idle';
  private latest: StateVector = new Map();
  private closed = false;

  /** Opens the database `name` and starts loading it into `doc`; what `doc` changes is written to it. */
  constructor(
    readonly name: string,
    doc: Y.Doc,
  ) {
    this.persistence = new IndexeddbPersistence(name, doc);
  }

  /** Resolves once the cached copy is loaded into the document. */
  get whenLoaded(): Promise<void> {
    return this.persistence.whenSynced.then(() => undefined);
  }

  /**
   * Resolves with the state the server was last known to hold (null if none was recorded) once
   * the copy is loaded too; with null at once if the database cannot be read.
   */
  async load(): Promise<StateVector | null> {
    let value: unknown;
    try {
      value = await this.persistence.get(STORED_KEY);
    } catch {
      return null;
    }
    await this.persistence.whenSynced;
    return value instanceof ArrayBuffer ? Y.decodeStateVector(new Uint8Array(value)) : null;
  }

  /**
   * Records `stateVector` as what the server holds. Written at once (a page may close any moment),
   * one write at a time, the last one with the latest value.
   */
  remember(stateVector: StateVector): void {
    if (this.closed) return;
    this.latest = new Map(stateVector);
    if (this.remembering !== 'idle') {
      this.remembering = 'writing-then-again';
      return;
    }
    this.remembering = 'writing';
    void this.persistence
      .set(STORED_KEY, encodeStateVector(this.latest).slice().buffer)
      .catch(() => undefined)
      .then(() => {
        const again = this.remembering === 'writing-then-again';
        this.remembering = 'idle';
        if (again) this.remember(this.latest);
      });
  }

  /** Stops writing and closes the database. */
  close(): Promise<void> {
    this.closed = true;
    return this.persistence.destroy().catch(() => undefined);
  }

  /**
   * Closes the database and deletes it. Resolves once it is gone, or once the browser says another
   * tab still has it open ("blocked"): it goes when that tab lets go, which a tab of this editor
   * does as soon as it learns of the deletion too.
   */
  async drop(): Promise<void> {
    await this.close();
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(this.name);
      request.onsuccess = request.onerror = request.onblocked = () => resolve();
    });
  }
}

function encodeStateVector(stateVector: StateVector): Uint8Array {
  // The format of Y.encodeStateVector, which only takes a document.
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, stateVector.size);
  for (const [client, clock] of stateVector) {
    encoding.writeVarUint(encoder, client);
    encoding.writeVarUint(encoder, clock);
  }
  return encoding.toUint8Array(encoder);
}
