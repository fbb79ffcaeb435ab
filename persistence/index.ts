/** The durable store of documents: the interface the engine uses, and its implementations. */
export { StoreOpenError, StoreUnavailableError, StoreWriteError } from './document-store.js';
export type { DocumentInfo, DocumentStore, LoggedUpdate, Position, StoredDocument, Written } from './document-store.js';
export type { EventListOptions, EventQueue, QueuedEvent } from './event-queue.js';
export type { VersionChanges, VersionInfo, VersionKind, VersionRecord, VersionStore } from './versions.js';
export { LevelDocumentStore } from './level/store.js';
export type { LevelDatabase, LevelStoreOptions } from './level/store.js';
export { PostgresDocumentStore } from './postgres/store.js';
export type { PostgresStoreOptions } from './postgres/store.js';
export { applyStoredDocument, compactUpdates } from './compaction.js';
export type { CompactUpdatesOptions } from './compaction.js';
