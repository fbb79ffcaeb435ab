/**
 * The pieces behind the limits, in-process: the token bucket, the origin check, and the two
 * questions the server asks of an update before and after applying it.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { HttpError } from '../../server/errors.js';
import { checkOrigin } from '../../server/http/origin.js';
import { TokenBucket } from '../../server/websocket/token-bucket.js';
import { changesNothing, findMisplacedItem } from '../../server/sync/update-check.js';
import { forgedItem } from '../helpers/clients.js';
import { AddressTimeBudget, applyWithin, UpdateTooSlow } from '../../server/sync/update-time.js';

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
    expect(
      changesNothing(
        partly,
        updateOf(server(), (d) => d.getText('t').delete(0, 3)),
      ),
    ).toBe(false);
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
    for (const [doc, update] of [
      [a, fromB],
      [b, fromA],
    ] as const) {
      doc.transact((transaction) => {
        Y.applyUpdate(doc, update);
        expect(findMisplacedItem(doc, transaction.beforeState)).toBe(null);
      });
    }
    expect(a.getText('t').toString()).toBe(b.getText('t').toString());
  });

  /** Applies `update` to `doc` in a transaction and returns what `findMisplacedItem` says of it. */
  const misplacedIn = (doc: Y.Doc, update: Uint8Array) => {
    let found: Y.Item | null = null;
    doc.transact((transaction) => {
      Y.applyUpdate(doc, update);
      found = findMisplacedItem(doc, transaction.beforeState);
    });
    return found as Y.Item | null;
  };

  it('finds nothing in 20,000 characters typed at one index, each before the last, and sent at once', () => {
    // Each character's origin ends up behind all the later ones: walking to it from each would
    // take 200 million steps, so the list is numbered instead.
    const typed = docWith((d) => {
      const text = d.getText('t');
      text.insert(0, 'ab');
      for (let i = 0; i < 20_000; i++) text.insert(1, 'y');
    });
    const doc = new Y.Doc();
    expect(misplacedIn(doc, Y.encodeStateAsUpdate(typed))).toBe(null);
    expect(doc.getText('t').toString()).toBe(typed.getText('t').toString());
  });

  it('finds an item placed before its origin or past its right origin, however far from them', () => {
    // "a", a run of 100 "b" (client 1) and a run of 100 "c" after it (client 2).
    const base = docWith((d) => d.getText('t').insert(0, `a${'b'.repeat(100)}`), 1);
    const other = docWith((d) => Y.applyUpdate(d, Y.encodeStateAsUpdate(base)), 2);
    other.getText('t').insert(101, 'c'.repeat(100));
    // A forged item of client 0 with its origin in the middle of the b's and its right origin
    // 40 characters to the left of it: Yjs puts it right after its origin, 150 items from the end.
    for (const [origin, rightOrigin] of [
      [50, 10],
      [10, 9],
    ]) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(other));
      const found = misplacedIn(doc, forgedItem(0, Y.createID(1, origin!), Y.createID(1, rightOrigin!)));
      expect(found?.id).toEqual({ client: 0, clock: 0 });
    }
  });
});

describe('the time an update may take to apply', () => {
  it('stops Yjs within an update past its deadline, and only then', () => {
    const typed = docWith((d) => {
      const text = d.getText('t');
      for (let i = 0; i < 2_000; i++) text.insert(i % 2 === 0 ? 0 : text.length, 'y');
    });
    const update = Y.encodeStateAsUpdate(typed);
    expect(() => applyWithin(-1, () => Y.applyUpdate(new Y.Doc(), update))).toThrow(UpdateTooSlow);
    const doc = new Y.Doc();
    applyWithin(60_000, () => Y.applyUpdate(doc, update));
    expect(doc.getText('t').length).toBe(2_000);
    // No deadline outside `applyWithin`, even after one has passed.
    const later = new Y.Doc();
    Y.applyUpdate(later, update);
    expect(later.getText('t').length).toBe(2_000);
  });

  it('gives each address its burst, then its rate, and forgets addresses that earned everything back', () => {
    const budget = new AddressTimeBudget(100, 800);
    expect(budget.allows('a', 0)).toBe(true);
    budget.spend('a', 900, 0); // one update may overdraw
    expect(budget.allows('a', 0)).toBe(false);
    expect(budget.allows('b', 0)).toBe(true);
    expect(budget.allows('a', 999)).toBe(false); // -100 + 99.9
    expect(budget.allows('a', 1_001)).toBe(true);
    for (let i = 0; i < 1022; i++) budget.spend(`other ${i}`, 0, 1_001);
    expect(budget.size).toBe(1023);
    budget.spend('a', 0, 100_000); // the 1,024th spend since: everyone has earned back everything
    expect(budget.size).toBe(0);
    expect(new AddressTimeBudget(0, 0).allows('a')).toBe(true);
  });
});
