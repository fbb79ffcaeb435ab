import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { readContent } from '../../server/documents/content.js';
import { UnreadableContentError } from '../../server/documents/errors.js';
import { documentJson } from '../../server/documents/formats.js';
import { restoreVersion } from '../../server/documents/restore.js';
import { doc, everyNodeAndMark, node, paragraph, replica, stateOf, ydocOf } from './fixtures.js';

/** A document with content and other shared types, as a version of it was taken. */
function versionedDocument(): Y.Doc {
  const ydoc = ydocOf(doc(node('heading', { level: 1 }, 'Minutes'), paragraph('First point.'), paragraph('Second point.'), paragraph('Third point.')));
  const meta = ydoc.getMap<unknown>('meta');
  meta.set('title', 'Minutes');
  meta.set('owner', 'ada');
  const settings = new Y.Map<unknown>();
  settings.set('theme', 'light');
  meta.set('settings', settings);
  ydoc.getArray<string>('tags').push(['a', 'b']);
  ydoc.getText('summary').insert(0, 'Short.');
  return ydoc;
}

/** Edits made after the version: text typed, paragraphs deleted, keys changed, added and deleted, and so on. */
function editAfterwards(ydoc: Y.Doc): void {
  const fragment = ydoc.getXmlFragment(FRAGMENT_NAME);
  ((fragment.get(1) as Y.XmlElement).get(0) as Y.XmlText).insert(0, 'Typed later. ');
  fragment.delete(2, 2);
  fragment.insert(2, [new Y.XmlElement('horizontal_rule')]);
  const meta = ydoc.getMap<unknown>('meta');
  meta.set('title', 'Renamed');
  meta.delete('owner');
  meta.set('added', true);
  (meta.get('settings') as Y.Map<unknown>).set('theme', 'dark');
  ydoc.getArray<string>('tags').push(['c']);
  ydoc.getText('summary').insert(6, ' Longer now.');
  ydoc.getMap('created').set('after', 'the version');
}

describe('restoring a version', () => {
  it('makes the document look like the version, without changing either', () => {
    const current = versionedDocument();
    const version = replica(current);
    editAfterwards(current);
    const [currentBefore, versionBefore] = [stateOf(current), stateOf(version)];
    const update = restoreVersion(current, version);
    expect(update).toBeInstanceOf(Uint8Array);
    expect(stateOf(current)).toEqual(currentBefore);
    expect(stateOf(version)).toEqual(versionBefore);
    Y.applyUpdate(current, update!);
    expect(readContent(current).toJSON()).toEqual(readContent(version).toJSON());
    // A top-level type cannot be removed from a Y.Doc: one the version lacks is emptied.
    expect(documentJson(current)).toEqual({ ...documentJson(version), created: {} });
    expect(restoreVersion(current, version)).toBeNull();
  });

  it('restores into a document whose types were never named, from a version whose types were never named', () => {
    const written = versionedDocument();
    const version = replica(written);
    editAfterwards(written);
    const current = replica(written);
    Y.applyUpdate(current, restoreVersion(current, version)!);
    expect(documentJson(current)).toEqual({ ...documentJson(version), created: {} });
  });

  it('is a forward edit that converges with edits made at the same time', () => {
    const here = versionedDocument();
    const version = replica(here);
    editAfterwards(here);
    const there = replica(here);
    const restore = restoreVersion(here, version)!;
    Y.applyUpdate(here, restore);
    const typed: Uint8Array[] = [];
    there.on('update', (update: Uint8Array) => typed.push(update));
    ((there.getXmlFragment(FRAGMENT_NAME).get(0) as Y.XmlElement).get(0) as Y.XmlText).insert(7, ' (draft)');
    Y.applyUpdate(there, restore);
    for (const update of typed) Y.applyUpdate(here, update);
    expect(Y.encodeStateAsUpdate(here)).toEqual(Y.encodeStateAsUpdate(there));
    expect(readContent(here).child(0).textContent).toBe('Minutes (draft)');
  });

  it('restores an empty version: no content, no other types', () => {
    const current = ydocOf(everyNodeAndMark());
    current.getArray('list').push([1]);
    Y.applyUpdate(current, restoreVersion(current, new Y.Doc())!);
    expect(current.getXmlFragment(FRAGMENT_NAME).length).toBe(0);
    expect(documentJson(current)).toEqual({ prosemirror: doc(paragraph()).toJSON(), list: [] });
  });

  it('restores over content the editor cannot show, which the version does not have', () => {
    const version = ydocOf(doc(paragraph('Readable.')));
    const current = replica(version);
    const table = new Y.XmlElement('table');
    table.insert(0, [new Y.XmlText('unknown')]);
    current.getXmlFragment(FRAGMENT_NAME).insert(1, [table]);
    Y.applyUpdate(current, restoreVersion(current, version)!);
    expect(current.getXmlFragment(FRAGMENT_NAME).toString()).toBe('<paragraph>Readable.</paragraph>');
  });

  it('refuses a version whose content cannot be read whole', () => {
    const version = ydocOf(doc(paragraph('x')));
    version.getXmlFragment(FRAGMENT_NAME).insert(0, [new Y.XmlElement('table')]);
    expect(() => restoreVersion(new Y.Doc(), version)).toThrow(UnreadableContentError);
    expect(() => restoreVersion(new Y.Doc(), version)).toThrow('in the version, it holds a "table" element, which this editor does not know');
  });

  it('refuses a top-level type that changed kind, and writes nothing', () => {
    const version = new Y.Doc();
    version.getArray('data').push([1]);
    const current = new Y.Doc();
    current.getMap('data').set('k', 1);
    expect(() => restoreVersion(current, version)).toThrow('its "data" is a shared map, and was a shared array in the version');
  });
});
