/**
 * Which errors of the file system and of LevelDB can pass on their own
 * (docs/decisions/2026-12-07-transient-store-failures.md).
 *
 * They can: no file descriptors left in the process or the system (EMFILE, ENFILE), no disk space
 * or quota (ENOSPC, EDQUOT), a resource busy for now (EAGAIN), no memory (ENOMEM). A write that
 * fails with one of them wrote nothing that counts (a partial journal record is cut off, a LevelDB
 * batch is atomic), and what was written before is untouched.
 *
 * Every other error is taken as one that does not pass. A failed sync of the journal in particular
 * (`JournalSyncError`), whatever its code: what the file holds on disk is unknown. EIO: the device
 * failed a request, and what it holds of earlier writes is unknown; so is a LevelDB `Corruption`. An error
 * this module does not know is one too, since retrying it could hide a fault that needs a person.
 */

import { JournalSyncError } from './journal.js';

/** Node's error codes (from errno) of the errors that can pass. */
const PASSING_CODES = new Set(['EMFILE', 'ENFILE', 'ENOSPC', 'EDQUOT', 'EAGAIN', 'EWOULDBLOCK', 'ENOMEM']);

/**
 * The same errors as LevelDB reports them: `IO error: <file>: <strerror(errno)>`, in the words of
 * glibc (and of the BSD and macOS C libraries, which spell the quota "Disc").
 */
const PASSING_LEVEL_MESSAGE =
  /: (Too many open files( in system)?|No space left on device|Dis[ck] quota exceeded|Resource temporarily unavailable|Cannot allocate memory)\b/;

/** Codes that settle it the other way, wherever they are in the chain of causes. */
const IN_DOUBT_CODES = new Set(['EIO', 'LEVEL_CORRUPTION']);
const IN_DOUBT_LEVEL_MESSAGE = /: Input\/output error\b/;

/** How deep in an error's causes to look: libraries wrap LevelDB's error once or twice. */
const CAUSE_DEPTH = 8;

/**
 * Whether `error`, or an error in its chain of causes, is one that can pass (see the top of this
 * file), and none in the chain says the data is in doubt.
 */
export function canPass(error: unknown): boolean {
  let passing = false;
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH && current instanceof Error; depth++) {
    if (current instanceof JournalSyncError) return false;
    const code = (current as NodeJS.ErrnoException).code;
    const level = code === 'LEVEL_IO_ERROR';
    if ((typeof code === 'string' && IN_DOUBT_CODES.has(code)) || (level && IN_DOUBT_LEVEL_MESSAGE.test(current.message))) return false;
    if ((typeof code === 'string' && PASSING_CODES.has(code)) || (level && PASSING_LEVEL_MESSAGE.test(current.message))) passing = true;
    current = current.cause;
  }
  return passing;
}

/** What each code that settles it says, in a few words: for messages a client may see. */
const PHRASES: Record<string, string> = {
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EAGAIN: 'resource temporarily unavailable',
  EWOULDBLOCK: 'resource temporarily unavailable',
  ENOMEM: 'out of memory',
  EIO: 'input/output error',
  LEVEL_CORRUPTION: 'LevelDB found corruption',
};

/**
 * Why `error` happened, in a few words, without the file paths LevelDB's messages hold (the
 * health check tells anyone who asks): the condition its chain names, else its first error code,
 * else "unknown error". The log has the whole error.
 */
export function reasonOf(error: unknown): string {
  let firstCode: string | null = null;
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') {
      const phrase = PHRASES[code];
      if (phrase !== undefined) return phrase;
      const level = code === 'LEVEL_IO_ERROR' ? (PASSING_LEVEL_MESSAGE.exec(current.message) ?? IN_DOUBT_LEVEL_MESSAGE.exec(current.message)) : null;
      if (level !== null) return level[0].slice(2).toLowerCase();
      firstCode ??= code;
    }
    current = current.cause;
  }
  return firstCode ?? 'unknown error';
}
