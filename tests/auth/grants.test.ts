/**
 * What a token grants, in-process: which documents a `doc` claim covers, which mode a request may
 * have, where a request's token is read from, and how lifetimes are written.
 */
import { describe, expect, it } from 'vitest';
import { authorize, authorizeAdmin, covers, OPEN_GRANT, requestToken, type Grant } from '../../server/auth/access.js';
import { parseTtl } from '../../server/auth/token.js';
import { HttpError } from '../../server/errors.js';

const grant = (doc: string, mode: 'rw' | 'ro' = 'rw', admin = false): Grant => ({ doc, mode, identity: null, expiresAt: null, admin });

describe('grants', () => {
  it('cover a name exactly, or every name with a prefix', () => {
    expect(covers(grant('team/notes'), 'team/notes')).toBe(true);
    expect(covers(grant('team/notes'), 'team/notes2')).toBe(false);
    expect(covers(grant('team/*'), 'team/notes')).toBe(true);
    expect(covers(grant('team/*'), 'team')).toBe(false);
    expect(covers(grant('team*'), 'teammates')).toBe(true);
    expect(covers(grant('*'), 'anything/at/all')).toBe(true);
    expect(covers(OPEN_GRANT, 'x')).toBe(true);
  });

  it('authorize reading with either mode and writing only with rw, refusing with 403', () => {
    expect(() => authorize(grant('a', 'ro'), 'a', 'ro')).not.toThrow();
    expect(() => authorize(grant('a', 'rw'), 'a', 'rw')).not.toThrow();
    const refusal = (fn: () => void) => {
      try {
        fn();
      } catch (error) {
        return error instanceof HttpError ? [error.status, error.code] : error;
      }
      return null;
    };
    expect(refusal(() => authorize(grant('a', 'ro'), 'a', 'rw'))).toEqual([403, 'wrong-mode']);
    expect(refusal(() => authorize(grant('a'), 'b', 'ro'))).toEqual([403, 'wrong-document']);
    // Deleting and restoring need the admin claim, on a token covering the document.
    expect(() => authorizeAdmin(grant('team/*', 'rw', true), 'team/a')).not.toThrow();
    expect(refusal(() => authorizeAdmin(grant('team/*', 'rw'), 'team/a'))).toEqual([403, 'not-admin']);
    expect(refusal(() => authorizeAdmin(grant('team/*', 'rw', true), 'other'))).toEqual([403, 'wrong-document']);
    expect(refusal(() => authorizeAdmin(grant('a', 'ro', true), 'a'))).toEqual([403, 'wrong-mode']);
  });

  it('read the token from a Bearer header first, else the query', () => {
    expect(requestToken(new URLSearchParams('token=q'), 'Bearer h')).toBe('h');
    expect(requestToken(new URLSearchParams('token=q'), undefined)).toBe('q');
    expect(requestToken(new URLSearchParams('token=q'), 'Basic abc')).toBe('q');
    expect(requestToken(new URLSearchParams(''), undefined)).toBe(null);
  });

  it('parse lifetimes in seconds, minutes, hours and days', () => {
    expect([parseTtl('90'), parseTtl('15m'), parseTtl('1h'), parseTtl('7d')]).toEqual([90, 900, 3600, 604_800]);
    for (const bad of ['', '0', '-1', '1w', '1.5h', 'soon']) expect(() => parseTtl(bad), bad).toThrow(RangeError);
  });
});
