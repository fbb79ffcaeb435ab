/**
 * The pieces behind the limits, in-process: the token bucket, the origin check, and the two
 * questions the server asks of an update before and after applying it.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { HttpError } from '../../server/errors.js';
import { checkOrigin } from '../../server/http/origin.js';
import { TokenBucket } from '../../server/sync/rate-limit.js';
import { changesNothing, findMisplacedItem } from '../../server/sync/update-check.js';

describe('the token bucket', () => {
  it('lets a burst of its capacity through, then the rate', () => {
    const bucket = new TokenBucket(10, 20, 0);
    const taken = Array.from({ length: 25 }, () => bucket.take(0)).filter(Boolean).length;
    expect(taken).toBe(20);
    expect(bucket.take(50)).toBe(false); // half a token in 50 ms
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(100_000)).toBe(true);
    expect(Array.from({ length: 30 }, () => bucket.take(100_000)).filter(Boolean).length).toBe(19);
  });

  it('has no limit at rate 0', () => {
    const bucket = new TokenBucket(0, 0, 0);
    expect(Array.from({ length: 1000 }, () => bucket.take(0)).every(Boolean)).toBe(true);
  });
});

describe('the origin check', () => {
  const status = (origin: string | undefined, host: string | undefined, allowed: string[]) => {
    try {
      checkOrigin(origin, host, allowed);
      return 'allowed';
    } catch (error) {
      return (error as HttpError).status;
    }
  };

  it('allows no Origin, the same host, listed origins and *', () => {
    expect(status(undefined, 'docs.example.com', [])).toBe('allowed');
    expect(status('https://docs.example.com', 'docs.example.com', [])).toBe('allowed');
    expect(status('http://127.0.0.1:1234', '127.0.0.1:1234', [])).toBe('allowed');
    expect(status('https://app.example.com', 'docs.example.com', ['https://app.example.com'])).toBe('allowed');
    expect(status('https://evil.example', 'docs.example.com', ['*'])).toBe('allowed');
  });

  it('refuses other origins, look-alikes and null with 403', () => {
    expect(status('https://evil.example', 'docs.example.com', [])).toBe(403);
    expect(status('https://docs.example.com.evil.example', 'docs.example.com', [])).toBe(403);
    expect(status('http://127.0.0.1:9999', '127.0.0.1:1234', [])).toBe(403);
    expect(status('null', 'docs.example.com', ['null'])).toBe(403);
    expect(status('not a url', 'docs.example.com', [])).toBe(403);
  });
});

function docWith(edit: (doc: Y.Doc) => void, clientID = 1): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  edit(doc);
  return doc;
}

function updateOf(doc: Y.Doc, edit: (doc: Y.Doc) => void): Uint8Array {
  let update: Uint8Array | null = null;
  doc.once('update', (u: Uint8Array) => (update = u));
  edit(doc);
  return update!;
}

describe('changesNothing', () => {
  const base = docWith((d) => d.getText('t').insert(0, 'hello world'));
  const server = () => {
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(base));
    return copy;
  };

  it('is true for what the document holds, in whole or in part, deletions included', () => {
    const doc = server();
    const deleted = updateOf(doc, (d) => d.getText('t').delete(0, 6));
    expect(changesNothing(doc, Y.encodeStateAsUpdate(base))).toBe(true);
    expect(changesNothing(doc, deleted)).toBe(true);
    expect(changesNothing(doc, Y.encodeStateAsUpdate(doc))).toBe(true);
    expect(changesNothing(doc, Y.encodeStateAsUpdate(new Y.Doc()))).toBe(true);
  });

  it('is false for a new struct, a new deletion, a deletion of unknown items, or a pending update', () => {
    const doc = server();
    const other = server();
    other.clientID = 2;
    const insert = updateOf(other, (d) => d.getText('t').insert(0, '>'));
    const second = updateOf(other, (d) => d.getText('t').insert(0, '>'));
    const deletion = updateOf(server(), (d) => d.getText('t').delete(2, 1));
    const unknownDeletion = updateOf(other, (d) => d.getText('t').delete(0, 1));
    expect(changesNothing(doc, insert)).toBe(false);
    expect(changesNothing(doc, second)).toBe(false);
    expect(changesNothing(doc, deletion)).toBe(false);
    expect(changesNothing(doc, unknownDeletion)).toBe(false);
    // A deletion range partly deleted already still deletes something.
    const partly = server();
    partly.getText('t').delete(0, 1);
    expect(changesNothing(partly, updateOf(server(), (d) => d.getText('t').delete(0, 3)))).toBe(false);
  });
});

describe('findMisplacedItem', () => {
  it('finds nothing in honest concurrent edits', () => {
    const a = docWith((d) => d.getText('t').insert(0, 'abcdef'), 1);
    const b = new Y.Doc();
    b.clientID = 2;
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const fromA = updateOf(a, (d) => d.getText('t').insert(3, 'XYZ'));
    const fromB = updateOf(b, (d) => d.getText('t').insert(3, '123'));
    for (const [doc, update] of [[a, fromB], [b, fromA]] as const) {
      doc.transact((transaction) => {
        Y.applyUpdate(doc, update);
        expect(findMisplacedItem(doc, transaction.beforeState)).toBe(null);
      });
    }
    expect(a.getText('t').toString()).toBe(b.getText('t').toString());
  });
});
