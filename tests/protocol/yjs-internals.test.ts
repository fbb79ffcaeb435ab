/**
 * What `protocol/yjs-internals.ts` expects of Yjs, checked against the installed version: a Yjs
 * release that changes any of it fails here, by name, before anything subtler breaks.
 */
import { readFileSync } from 'node:fs';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  checkBeforeEachItem,
  clearPending,
  firstItem,
  keysOfType,
  markPending,
  newestItemOfKey,
  pendingIntegrated,
  pendingSizes,
  somethingPending,
  UpdateScanner,
  withoutPending,
} from '../../protocol/yjs-internals.js';

/** Two updates of one client: the second depends on the first (its origin is the first's last character). */
function dependentUpdates(): { first: Uint8Array; second: Uint8Array; deletion: Uint8Array } {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (update: Uint8Array) => updates.push(update));
  doc.getText('t').insert(0, 'ab');
  doc.getText('t').insert(2, 'cd');
  doc.getText('t').delete(0, 1);
  return { first: updates[0]!, second: updates[1]!, deletion: updates[2]! };
}

describe('Yjs internals the server relies on', () => {
  it('is the Yjs version the package pins, exactly', () => {
    const pinned = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).dependencies.yjs;
    const installed = JSON.parse(readFileSync(new URL('../../node_modules/yjs/package.json', import.meta.url), 'utf8')).version;
    expect(pinned, 'yjs must be pinned to an exact version: check protocol/yjs-internals.ts against a new one first').toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });

  it('keeps a struct whose origin is missing in the pending queue, and integrates it once the origin arrives', () => {
    const { first, second } = dependentUpdates();
    const doc = new Y.Doc();
    expect(somethingPending(doc)).toBe(false);
    Y.applyUpdate(doc, second);
    expect(somethingPending(doc)).toBe(true);
    expect(pendingSizes(doc).structs).toBeGreaterThan(0);
    expect(doc.getText('t').toString()).toBe('');
    const mark = markPending(doc);
    expect(pendingIntegrated(doc, mark)).toBe(false);
    Y.applyUpdate(doc, first);
    expect(pendingIntegrated(doc, mark)).toBe(true);
    expect(somethingPending(doc)).toBe(false);
    expect(doc.getText('t').toString()).toBe('abcd');
  });

  it('keeps the deletion of a missing item in the pending delete set, and applies it once the item arrives', () => {
    const { first, second, deletion } = dependentUpdates();
    const doc = new Y.Doc();
    Y.applyUpdate(doc, deletion);
    expect(pendingSizes(doc).deletions).toBeGreaterThan(0);
    const mark = markPending(doc);
    Y.applyUpdate(doc, first);
    Y.applyUpdate(doc, second);
    expect(pendingIntegrated(doc, mark)).toBe(true);
    expect(doc.getText('t').toString()).toBe('bcd');
  });

  it('encodes a document without what waits while the queues are set aside, and keeps them', () => {
    const { first, second } = dependentUpdates();
    const holder = new Y.Doc();
    Y.applyUpdate(holder, second);
    // Yjs adds what waits to the state it encodes.
    const withPending = Y.encodeStateAsUpdate(holder);
    const without = withoutPending(holder, () => Y.encodeStateAsUpdate(holder));
    expect(without.length).toBeLessThan(withPending.length);
    expect(somethingPending(holder)).toBe(true);
    clearPending(holder);
    expect(somethingPending(holder)).toBe(false);
    Y.applyUpdate(holder, first);
    expect(holder.getText('t').toString()).toBe('ab');
  });

  it('integrates every item through Item.prototype.integrate, which a check can stop', () => {
    let calls = 0;
    let stop = false;
    checkBeforeEachItem(() => {
      calls++;
      if (stop) throw new Error('stopped by the check');
    });
    try {
      const source = new Y.Doc();
      source.getArray('a').insert(0, [1, 2, 3]);
      source.getMap('m').set('k', 'v');
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(source));
      // One item for the array's run, one for the map's key.
      expect(calls).toBeGreaterThanOrEqual(2);
      source.getText('t').insert(0, 'x');
      stop = true;
      expect(() => Y.applyUpdate(doc, Y.encodeStateAsUpdate(source))).toThrow('stopped by the check');
    } finally {
      checkBeforeEachItem(() => undefined);
    }
  });

  it('reads an update through the decoder class it is given: one readClient per list of structs, its byte reader at the end', () => {
    const source = new Y.Doc();
    source.getText('t').insert(0, 'hello');
    const update = Y.encodeStateAsUpdate(source);
    const scanner = new UpdateScanner();
    const scanned = scanner.scan(update);
    expect(scanned.end).toBe(update.length);
    expect(scanned.listedTwice).toBeNull();
    expect(scanned.structs.map((struct) => struct.id.client)).toEqual([source.clientID]);
    // The same client's list twice: Yjs integrates only the last one.
    const twice = encoding.createEncoder();
    encoding.writeVarUint(twice, 2);
    for (const clock of [0, 1]) {
      encoding.writeVarUint(twice, 1); // one struct
      encoding.writeVarUint(twice, 7); // client
      encoding.writeVarUint(twice, clock);
      encoding.writeUint8(twice, 4); // a string item with its parent named
      encoding.writeVarUint(twice, 1); // parent is a root type
      encoding.writeVarString(twice, 't');
      encoding.writeVarString(twice, 'x');
    }
    encoding.writeVarUint(twice, 0); // empty delete set
    const doubled = encoding.toUint8Array(twice);
    expect(scanner.scan(doubled).listedTwice).toBe(7);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, doubled);
    expect(Y.getState(doc.store, 7)).toBe(0);
    // Bytes after the update: the reader stops before them.
    const trailing = Uint8Array.of(...update, 0);
    expect(scanner.scan(trailing).end).toBe(update.length);
  });

  it("finds a sequence's first item and a map key's newest item, with older values to its left", () => {
    const doc = new Y.Doc({ gc: false });
    const text = doc.getText('t');
    text.insert(0, 'b');
    text.insert(0, 'a');
    const first = firstItem(text);
    expect(first?.content.getContent()).toEqual(['a']);
    expect(first?.right?.content.getContent()).toEqual(['b']);
    const map = doc.getMap('m');
    map.set('k', 1);
    map.set('k', 2);
    const newest = newestItemOfKey(map, 'k');
    expect(newest?.content.getContent()).toEqual([2]);
    expect(newest?.left?.content.getContent()).toEqual([1]);
    expect(newest?.left?.parentSub).toBe('k');
    expect(newestItemOfKey(map, 'missing')).toBeNull();
  });

  it('lists the keys of a type nobody has named yet, deleted ones too', () => {
    const source = new Y.Doc();
    source.getMap('m').set('a', 1);
    source.getMap('m').set('b', 2);
    source.getMap('m').delete('b');
    source.getText('t').insert(0, 'x');
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(source));
    // Applying an update to a fresh document makes bare types, which `getMap` would turn into maps.
    const bare = doc.share.get('m')!;
    expect(bare.constructor).toBe(Y.AbstractType);
    expect(keysOfType(bare).sort()).toEqual(['a', 'b']);
    expect(keysOfType(doc.share.get('t')!)).toEqual([]);
  });
});
