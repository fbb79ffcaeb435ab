/**
 * The metadata of recently written documents, kept in memory so that an index batch need not read
 * it back. Only the store's writer changes metadata (every LevelDB write goes through its one
 * queue), so what the cache holds is what the database holds.
 */
import { type DocumentMeta, decodeMeta, EMPTY_META, type LevelDatabase, metaKey } from './keys.js';

/** Metadata records kept in memory; past this the least recently written are dropped (and read again when needed). */
const ENTRIES = 10_000;

/** The metadata cache of one store (see the top of this file). */
export class MetaCache {
  /** By name, least recently written first. */
  private readonly entries = new Map<string, DocumentMeta>();

  constructor(private readonly db: LevelDatabase) {}

  /** The cached metadata of `name`, if cached. */
  get(name: string): DocumentMeta | undefined {
    return this.entries.get(name);
  }

  /** The metadata of `name`, from the cache or the database. */
  async read(name: string): Promise<DocumentMeta> {
    const cached = this.entries.get(name);
    if (cached !== undefined) return cached;
    const bytes = await this.db.get(metaKey(name));
    return bytes === undefined ? EMPTY_META : decodeMeta(bytes);
  }

  /** The current metadata of each name, from the cache or the database (caching what it read). For the writer only. */
  async readMany(names: readonly string[]): Promise<Map<string, DocumentMeta>> {
    const metas = new Map<string, DocumentMeta>();
    const missing = names.filter((name) => {
      const cached = this.entries.get(name);
      if (cached) metas.set(name, cached);
      return cached === undefined;
    });
    if (missing.length === 0) return metas;
    const values = await this.db.getMany(missing.map(metaKey));
    missing.forEach((name, i) => {
      const bytes = values[i];
      const meta = bytes === undefined ? EMPTY_META : decodeMeta(bytes);
      metas.set(name, meta);
      this.set(name, meta);
    });
    return metas;
  }

  /** Records what the writer wrote for `name`. */
  set(name: string, meta: DocumentMeta): void {
    this.entries.delete(name);
    this.entries.set(name, meta);
    if (this.entries.size > ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(name: string): void {
    this.entries.delete(name);
  }

  /** Forgets everything: the database was opened again, and holds what it holds. */
  clear(): void {
    this.entries.clear();
  }
}
