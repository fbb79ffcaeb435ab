/**
 * Which failures of PostgreSQL the store waits out (unavailable) and which fail it for good: the
 * table of docs/decisions/2026-12-07-postgres-store.md, error by error, as node-postgres and
 * Node report them.
 */
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { StoreOpenError } from '../../persistence/document-store.js';
import { canPass, reasonOf } from '../../persistence/postgres/errors.js';

function databaseError(code: string, message = 'from the server'): DatabaseError {
  const error = new DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

function systemError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

describe('PostgreSQL errors', () => {
  it('waits out a server out of reach, restarting, out of resources, or read-only for now', () => {
    for (const code of ['08006', '08001', '57P01', '57P02', '57P03', '53100', '53200', '53300', '25006', '40001', '40P01', '57014']) {
      expect(canPass(databaseError(code)), code).toBe(true);
    }
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']) expect(canPass(systemError(code, 'connect')), code).toBe(true);
    expect(canPass(systemError('ENOENT', 'connect'))).toBe(true);
    expect(canPass(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(canPass(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(canPass(new Error('Query read timeout'))).toBe(true);
    expect(canPass(new Error('outer', { cause: databaseError('57P01') }))).toBe(true);
  });

  it('fails for good on a changed schema, a broken invariant, corruption, a refused setting, or anything unknown', () => {
    for (const code of ['42P01', '42703', '23505', '22P02', '58030', 'XX001', 'XX000', '3D000', '28P01', '57P04', '54000']) {
      expect(canPass(databaseError(code)), code).toBe(false);
    }
    expect(canPass(systemError('ENOENT', 'open'))).toBe(false);
    expect(canPass(new StoreOpenError('PostgreSQL runs with fsync=off'))).toBe(false);
    expect(canPass(new Error('Client was closed and is not queryable'))).toBe(false);
    expect(canPass(new TypeError('a bug'))).toBe(false);
    // The database's word settles it, whatever wraps it.
    expect(canPass(Object.assign(databaseError('42P01'), { cause: systemError('ECONNRESET', 'read') }))).toBe(false);
  });

  it('says why in a few words', () => {
    expect(reasonOf(databaseError('57P01', 'terminating connection due to administrator command'))).toBe(
      'terminating connection due to administrator command (SQLSTATE 57P01)',
    );
    expect(reasonOf(systemError('ECONNREFUSED', 'connect'))).toBe('ECONNREFUSED on connect');
    expect(reasonOf(new Error('Connection terminated unexpectedly'))).toBe('connection terminated unexpectedly');
    expect(reasonOf(new Error('Query read timeout'))).toBe('no answer within the query timeout');
    expect(reasonOf(new StoreOpenError('PostgreSQL runs with fsync=off'))).toBe('PostgreSQL runs with fsync=off');
  });
});
