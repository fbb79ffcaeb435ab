/**
 * Which errors the LevelDB store takes as passing: real ones where the system gives them cheaply
 * (a full device, a database that cannot open), LevelDB's own words where it takes an exhausted
 * process or a failing disk to get them (the store-outage tests meet the real EMFILE).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { StoreWriteError } from '../../persistence/document-store.js';
import { canPass, reasonOf } from '../../persistence/level/io-errors.js';
import { JournalSyncError } from '../../persistence/level/journal.js';
import { makeTempDir } from './helpers.js';

/** An error as LevelDB's binding gives it (classic-level: `code` from the status, the message its `ToString()`). */
function levelError(message: string, code = 'LEVEL_IO_ERROR'): Error {
  return Object.assign(new Error(message), { code });
}

/** What abstract-level wraps a failure to open in. */
function notOpen(cause: Error): Error {
  return Object.assign(new Error('Database failed to open', { cause }), { code: 'LEVEL_DATABASE_NOT_OPEN' });
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

describe('errors that pass', () => {
  it('takes a full device as passing, wherever it is in the causes', () => {
    const fd = openSync('/dev/full', 'w');
    let full: unknown;
    try {
      writeSync(fd, new Uint8Array(16));
    } catch (error) {
      full = error;
    } finally {
      closeSync(fd);
    }
    expect(full).toMatchObject({ code: 'ENOSPC' });
    expect(canPass(full)).toBe(true);
    expect(canPass(new StoreWriteError('Could not write 1 update(s)', { cause: full }))).toBe(true);
    expect(reasonOf(new StoreWriteError('Could not write 1 update(s)', { cause: full }))).toBe('no space left on device');
  });

  it("reads LevelDB's words for the errno behind an IO error, under abstract-level's wrapper", () => {
    const cases: Array<[string, boolean, string]> = [
      ['IO error: /data/000004.log: Too many open files', true, 'too many open files'],
      ['IO error: /data/000004.log: Too many open files in system', true, 'too many open files in system'],
      ['IO error: /data/000005.ldb: No space left on device', true, 'no space left on device'],
      ['IO error: /data/000005.ldb: Disk quota exceeded', true, 'disk quota exceeded'],
      ['IO error: /data/MANIFEST-000002: Cannot allocate memory', true, 'cannot allocate memory'],
      ['IO error: /data/000005.ldb: Input/output error', false, 'input/output error'],
      ['IO error: /data/LOCK: Permission denied', false, 'LEVEL_DATABASE_NOT_OPEN'],
    ];
    for (const [message, passes, reason] of cases) {
      const error = notOpen(levelError(message));
      expect(canPass(error), message).toBe(passes);
      expect(reasonOf(error), message).toBe(reason);
    }
  });

  it('takes data in doubt as not passing, even beside an error that would', () => {
    const eio = errno('EIO', 'i/o error, write');
    expect(canPass(eio)).toBe(false);
    expect(canPass(new StoreWriteError('Could not write', { cause: Object.assign(eio, { cause: errno('ENOSPC', 'no space') }) }))).toBe(false);
    expect(canPass(levelError('Corruption: checksum mismatch', 'LEVEL_CORRUPTION'))).toBe(false);
    // A failed sync of the journal, whatever its code: what the disk holds is unknown.
    expect(canPass(new StoreWriteError('Could not write', { cause: new JournalSyncError('not synced', { cause: errno('ENOSPC', 'no space') }) }))).toBe(false);
  });

  it('takes what it does not know as not passing', async () => {
    expect(canPass(new Error('something else'))).toBe(false);
    expect(canPass('a string')).toBe(false);
    expect(reasonOf(new Error('something else'))).toBe('unknown error');
    // A real one: a database cannot be made where a file stands (ENOTDIR).
    const { dir, cleanup } = await makeTempDir();
    try {
      closeSync(openSync(join(dir, 'file'), 'w'));
      const db = new ClassicLevel(join(dir, 'file', 'db'));
      const error = await db.open().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'ENOTDIR' } });
      expect(canPass(error)).toBe(false);
      expect(reasonOf(error)).toBe('LEVEL_DATABASE_NOT_OPEN');
    } finally {
      await cleanup();
    }
  });
});
