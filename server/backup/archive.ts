/**
 * The backup archive format, version 1 (docs/operations.md, Backups): written as a stream by the
 * server's backup endpoint, read as a stream by `collab-server backup` (to check it) and `restore`.
 *
 *   magic   "COLLABBK" (8 bytes), then the format version (1 byte, 1)
 *   records each: type (1 byte), length n (4 bytes, big-endian), n bytes of payload, then the
 *           CRC-32 of the type byte and the payload (4 bytes, big-endian)
 *
 * Records come in this order: one `header`; per document, its `document` record followed by its
 * `version` records; one `end`. A `header` and an `end` payload is JSON; a `document` or `version`
 * payload is a 4-byte length, that much JSON (what is known of it), then its bytes (a Yjs update).
 * The `end` record holds the counts of records and the SHA-256 of every byte before it, so a
 * truncated archive (no `end`), a corrupt one (a CRC or the digest differs) and one with a record
 * dropped or reordered whole (the digest) are all told apart from a good one. Nothing after `end`.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { VersionInfo } from '../../persistence/versions.js';

export const MAGIC = 'COLLABBK';
export const FORMAT_VERSION = 1;
/** The largest payload a reader takes (checked from the length, before buffering): 1 GiB. */
export const MAX_PAYLOAD = 1024 ** 3;

const TYPE = { header: 0x01, document: 0x02, version: 0x03, end: 0xff } as const;

/** The first record: what wrote the archive, and when. */
export interface ArchiveHeader {
  readonly server: string;
  /** When the backup started, ISO 8601. */
  readonly createdAt: string;
}

/** A document as of one moment: its whole state, and the log position that state reflects. */
export interface DocumentEntry {
  readonly name: string;
  /** The position of the server's log the state reflects (meaningful on that server only). */
  readonly head: number;
  /** When it was read, ms since the epoch. */
  readonly capturedAt: number;
  /** The document as a Yjs update (v1). */
  readonly state: Uint8Array;
}

/** One stored version of the document before it, as the store keeps it (possibly a delta). */
export interface VersionEntry {
  readonly document: string;
  readonly info: VersionInfo;
  readonly data: Uint8Array;
}

export type ArchiveRecord =
  | { readonly type: 'header'; readonly header: ArchiveHeader }
  | { readonly type: 'document'; readonly entry: DocumentEntry }
  | { readonly type: 'version'; readonly entry: VersionEntry }
  | { readonly type: 'end'; readonly documents: number; readonly versions: number };

/** An archive that cannot be read: truncated, corrupt, or not an archive; the message says which and where. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

/** Encodes an archive one record at a time; each call returns the bytes to write next. */
export class ArchiveWriter {
  private readonly digest: Hash = createHash('sha256');
  private documents = 0;
  private versions = 0;

  /** The magic, the format version and the header record. */
  start(header: ArchiveHeader): Uint8Array {
    const magic = Buffer.concat([Buffer.from(MAGIC, 'latin1'), Buffer.of(FORMAT_VERSION)]);
    this.digest.update(magic);
    return Buffer.concat([magic, this.record(TYPE.header, Buffer.from(JSON.stringify(header)))]);
  }

  document(entry: DocumentEntry): Uint8Array {
    this.documents++;
    const { state, ...meta } = entry;
    return this.record(TYPE.document, withMeta(meta, state));
  }

  version(entry: VersionEntry): Uint8Array {
    this.versions++;
    const { data, ...meta } = entry;
    return this.record(TYPE.version, withMeta(meta, data));
  }

  /** The end record; nothing may follow it. */
  end(): Uint8Array {
    const sha256 = this.digest.copy().digest('hex');
    return this.record(TYPE.end, Buffer.from(JSON.stringify({ documents: this.documents, versions: this.versions, sha256 })));
  }

  private record(type: number, payload: Uint8Array): Uint8Array {
    const head = Buffer.alloc(5);
    head.writeUInt8(type, 0);
    head.writeUInt32BE(payload.length, 1);
    const check = Buffer.alloc(4);
    check.writeUInt32BE(crc32(payload, crc32(head.subarray(0, 1))), 0);
    const bytes = Buffer.concat([head, payload, check]);
    this.digest.update(bytes);
    return bytes;
  }
}

function withMeta(meta: object, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, data]);
}

/**
 * Reads an archive from `chunks`, yielding its records in order, each once its checksum holds,
 * and the `end` record last, once the digest of the whole holds. Throws `ArchiveError` at the
 * first thing wrong, so a caller that acts on records must read the whole archive once before
 * (as `restore` does) to change nothing when it is bad.
 */
export async function* readArchive(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<ArchiveRecord> {
  const reader = new ChunkReader(chunks[Symbol.asyncIterator]());
  const digest = createHash('sha256');
  const magic = await reader.take(MAGIC.length + 1, 'the archive header');
  if (magic.subarray(0, MAGIC.length).toString('latin1') !== MAGIC)
    throw new ArchiveError('not a collab-server backup archive (it does not start with COLLABBK)');
  if (magic[MAGIC.length] !== FORMAT_VERSION)
    throw new ArchiveError(`archive format version ${magic[MAGIC.length]}, this collab-server reads version ${FORMAT_VERSION}`);
  digest.update(magic);
  const counts = { documents: 0, versions: 0 };
  let previous: string | null = null;
  for (let index = 0; ; index++) {
    const at = reader.offset;
    const head = await reader.take(5, `record ${index}`);
    const type = head.readUInt8(0);
    const length = head.readUInt32BE(1);
    if (length > MAX_PAYLOAD) throw new ArchiveError(`record ${index} at byte ${at} claims ${length} bytes, more than ${MAX_PAYLOAD}: the archive is corrupt`);
    const payload = await reader.take(length, `record ${index}`);
    const check = await reader.take(4, `record ${index}`);
    if (crc32(payload, crc32(head.subarray(0, 1))) !== check.readUInt32BE(0)) {
      throw new ArchiveError(`record ${index} at byte ${at} fails its checksum: the archive is corrupt`);
    }
    // The digest the end record holds is of every byte before it.
    const sha256 = digest.copy().digest('hex');
    digest.update(head).update(payload).update(check);
    if ((type === TYPE.header) !== (index === 0)) throw new ArchiveError(`record ${index} at byte ${at}: the header must come first, and only there`);
    const record = decodeRecord(type, payload, index, at);
    if (record.type === 'document') {
      counts.documents++;
      previous = record.entry.name;
    } else if (record.type === 'version') {
      if (record.entry.document !== previous) throw new ArchiveError(`record ${index} at byte ${at}: a version of "${record.entry.document}" out of place`);
      counts.versions++;
    } else if (record.type === 'end') {
      const end = JSON.parse(payload.toString('utf8')) as { sha256?: unknown };
      if (end.sha256 !== sha256 || record.documents !== counts.documents || record.versions !== counts.versions) {
        throw new ArchiveError('the archive does not match its digest: it is corrupt');
      }
      if (!(await reader.atEnd())) throw new ArchiveError(`bytes after the end record (at byte ${reader.offset}): the archive is corrupt`);
      yield record;
      return;
    }
    yield record;
  }
}

function decodeRecord(type: number, payload: Buffer, index: number, at: number): ArchiveRecord {
  const bad = (what: string) => new ArchiveError(`record ${index} at byte ${at}: ${what}`);
  try {
    if (type === TYPE.header) return { type: 'header', header: JSON.parse(payload.toString('utf8')) as ArchiveHeader };
    if (type === TYPE.end) {
      const { documents, versions } = JSON.parse(payload.toString('utf8')) as { documents: number; versions: number };
      return { type: 'end', documents, versions };
    }
    if (type !== TYPE.document && type !== TYPE.version) throw bad(`unknown record type ${type}`);
    const metaLength = payload.readUInt32BE(0);
    if (metaLength > payload.length - 4) throw bad('its metadata runs past the record');
    const meta = JSON.parse(payload.subarray(4, 4 + metaLength).toString('utf8')) as Record<string, unknown>;
    const bytes = new Uint8Array(payload.subarray(4 + metaLength));
    if (type === TYPE.document) {
      if (typeof meta['name'] !== 'string' || typeof meta['head'] !== 'number' || typeof meta['capturedAt'] !== 'number')
        throw bad('a document without a name');
      return { type: 'document', entry: { name: meta['name'], head: meta['head'], capturedAt: meta['capturedAt'], state: bytes } };
    }
    const info = meta['info'] as VersionInfo | undefined;
    if (typeof meta['document'] !== 'string' || typeof info?.id !== 'string') throw bad('a version without a document or an id');
    return { type: 'version', entry: { document: meta['document'], info, data: bytes } };
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw bad(`unreadable (${(error as Error).message})`);
  }
}

/** Takes exact byte counts from a stream of chunks, saying what was cut short when it ends first. */
class ChunkReader {
  private buffered: Buffer[] = [];
  private size = 0;
  /** Bytes taken so far. */
  offset = 0;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  async take(count: number, what: string): Promise<Buffer> {
    while (this.size < count) {
      const next = await this.source.next();
      if (next.done) throw new ArchiveError(`the archive ends in ${what} (after ${this.offset + this.size} bytes, before its end record): it is truncated`);
      this.buffered.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      this.size += next.value.byteLength;
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.size);
    const taken = Buffer.from(all.subarray(0, count));
    const rest = all.subarray(count);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    this.offset += count;
    return taken;
  }

  /** Whether the stream ends here, with nothing more in it. */
  async atEnd(): Promise<boolean> {
    if (this.size > 0) return false;
    for (;;) {
      const next = await this.source.next();
      if (next.done) return true;
      if (next.value.byteLength > 0) return false;
    }
  }
}
