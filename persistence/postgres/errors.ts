/**
 * Which failures of PostgreSQL, or of the way to it, can pass on their own
 * (docs/decisions/2026-12-07-postgres-store.md).
 *
 * They can: the server out of reach (refused, reset, no socket file, a timeout, a connection cut,
 * the server shutting down, starting, or in crash recovery), out of resources for now (SQLSTATE
 * class 53: disk full, out of memory, too many connections), a read-only server (a standby not yet
 * promoted), and a transaction that must be retried (class 40) or was cancelled (57014). None of
 * them leaves what was committed in doubt: PostgreSQL's own WAL keeps that, and an uncommitted
 * transaction is rolled back whole.
 *
 * Every other error does not pass: the schema changed or gone under the store (class 42), a
 * broken invariant (class 23: another program wrote positions), data or I/O faults PostgreSQL
 * reports (58030, class XX), a database dropped, authentication refused, a setting this store
 * refuses, or an error this module does not know. Retrying those could hide a fault that needs a
 * person.
 */
import { DatabaseError } from 'pg';
import { StoreOpenError } from '../document-store.js';

/** Node's codes of a connection that failed or broke. */
const PASSING_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** SQLSTATEs that pass, besides the classes 08 (connection exception) and 53 (insufficient resources). */
const PASSING_STATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (or terminated this connection)
  '57P02', // crash_shutdown: another backend crashed, the server restarts
  '57P03', // cannot_connect_now: starting up, or in recovery
  '57014', // query_canceled
  '25006', // read_only_sql_transaction: a standby, before it is promoted
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/**
 * node-postgres reports a connection lost, never made in time, or a statement without an answer
 * in time (`query_timeout`, see `connections.ts`), with these messages and no code. A statement
 * whose connection is lost, or given up on, may have committed; see `PostgresDocumentStore.append`.
 */
const PASSING_CLIENT_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Query read timeout)$/;

/** node-postgres's message for a statement past its `query_timeout`: one of the above. */
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

/** How deep in an error's causes to look. */
const CAUSE_DEPTH = 8;

/** Whether `error`, or an error in its chain of causes, is one that can pass (see the top of this file). */
export function canPass(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH && current instanceof Error; depth++) {
    if (current instanceof DatabaseError) return passingState(current.code);
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && PASSING_SYSTEM_CODES.has(code)) return true;
    // A unix socket file that is not there: the server is stopped.
    if (code === 'ENOENT' && (current as NodeJS.ErrnoException).syscall === 'connect') return true;
    if (code === undefined && PASSING_CLIENT_MESSAGE.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

function passingState(state: string | undefined): boolean {
  if (state === undefined) return false;
  return state.startsWith('08') || state.startsWith('53') || PASSING_STATES.has(state);
}

/**
 * Why `error` happened, in a few words, for a message a client may see: PostgreSQL's own message,
 * a refusal of the server's settings or schema, or the first code in its chain.
 */
export function reasonOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH && current instanceof Error; depth++) {
    if (current instanceof StoreOpenError) return current.message;
    if (current instanceof DatabaseError) return `${current.message} (SQLSTATE ${current.code ?? 'unknown'})`;
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return `${code} on ${(current as NodeJS.ErrnoException).syscall ?? 'a connection'}`;
    if (current.message === QUERY_TIMEOUT_MESSAGE) return 'no answer within the query timeout';
    if (PASSING_CLIENT_MESSAGE.test(current.message)) return current.message.toLowerCase();
    current = current.cause;
  }
  return 'unknown error';
}
