/**
 * Applying stored documents and compacting updates, on real Yjs updates.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import { applyStoredDocument, compactUpdates } from '../../persistence/compaction.js';
import { Editor } from './helpers.js';

describe('applyStoredDocument', () => {
  it('applies the state, then the updates, in one transaction with the given origin', () => {
    const editor = new Editor();
    editor.type('state ');
    const state = editor.state();
    const updates = editor.type('and log');

    const doc = new Y.Doc();
    const origins: unknown[] = [];
    doc.on('update', (_update: Uint8Array, origin: unknown) => origins.push(origin));
    applyStoredDocument(doc, { state, updates }, 'load');
    expect(doc.getText('text').toString()).toBe('state and log');
    expect(origins).toEqual(['load']); // one transaction, so one update event
  });

  it('ignores updates the state already holds (the log may overlap it)', () => {
    const editor = new Editor();
    const updates = editor.type('overlap');
    const doc = new Y.Doc();
    applyStoredDocument(doc, { state: editor.state(), updates });
    expect(doc.getText('text').toString()).toBe('overlap');
  });

  it('leaves an empty document for an empty stored document', () => {
    const doc = new Y.Doc();
    applyStoredDocument(doc, { state: null, updates: [] });
    expect(doc.getText('text').toString()).toBe('');
  });
});

describe('compactUpdates', () => {
  it('compacts updates into one equivalent update', () => {
    const editor = new Editor();
    editor.type('hello world');
    editor.doc.transact(() => editor.text.delete(0, 6));
    const folded = compactUpdates(editor.updates);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, folded);
    expect(doc.getText('text').toString()).toBe('world');
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(editor.doc));
  });

  it('compacts an earlier compaction with later updates, as a compaction of state plus log does', () => {
    const editor = new Editor();
    const first = compactUpdates(editor.type('first '));
    const again = compactUpdates([first, ...editor.type('second')]);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, again);
    expect(doc.getText('text').toString()).toBe('first second');
  });

  it('gives an empty document for no updates', () => {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, compactUpdates([]));
    expect(doc.getText('text').toString()).toBe('');
  });

  it('keeps deleted content only when gc is false', () => {
    const editor = new Editor();
    editor.type('deleted');
    editor.doc.transact(() => editor.text.delete(0, 7));
    // A collected item keeps only its length (ContentDeleted); a kept one keeps its characters.
    const collected = (update: Uint8Array): boolean =>
      Y.decodeUpdate(update).structs.some((struct) => struct instanceof Y.Item && struct.content instanceof Y.ContentDeleted);
    expect(collected(compactUpdates(editor.updates))).toBe(true);
    expect(collected(compactUpdates(editor.updates, { gc: false }))).toBe(false);
  });
});
