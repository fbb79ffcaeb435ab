import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { UnreadableContentError } from '../../server/documents/errors.js';
import { documentJson, EXPORT_FORMATS, exportDocument, parseDocument, toText } from '../../server/documents/formats.js';
import { doc, everyNodeAndMark, node, paragraph, replica, stateOf, text, ydocOf } from './fixtures.js';

/** A document with the editor's content and one top-level type of every other kind, some nested. */
function documentWithSharedTypes(): Y.Doc {
  const ydoc = ydocOf(doc(paragraph('Hello ', text('world', 'strong'))));
  const meta = ydoc.getMap('meta');
  meta.set('title', 'Notes');
  meta.set('count', 3);
  meta.set('bytes', new Uint8Array([1, 2, 3]));
  meta.set('__proto__', 'a key like any other');
  const nested = new Y.Map<unknown>();
  nested.set('deep', new Y.Array<number>());
  meta.set('nested', nested);
  (nested.get('deep') as Y.Array<number>).push([1, 2]);
  ydoc.getArray('list').push(['a', 1, { b: true }, null]);
  const comments = ydoc.getText('comments');
  comments.insert(0, 'plain and bold');
  comments.format(10, 4, { bold: true });
  const other = ydoc.getXmlFragment('other');
  const element = new Y.XmlElement('note');
  element.setAttribute('kind', 'aside');
  element.insert(0, [new Y.XmlText('inside')]);
  other.insert(0, [element]);
  return ydoc;
}

const EXPECTED_JSON = {
  prosemirror: doc(paragraph('Hello ', text('world', 'strong'))).toJSON(),
  comments: 'plain and bold',
  list: ['a', 1, { b: true }, null],
  // Parsed: in an object literal, `__proto__` would set the prototype.
  meta: JSON.parse('{"__proto__": "a key like any other", "bytes": "AQID", "count": 3, "nested": {"deep": [1, 2]}, "title": "Notes"}'),
  other: '<note kind="aside">inside</note>',
};

describe('exporting a document', () => {
  it('gives every top-level type in the json export, whether the document named it or only received it', () => {
    const written = documentWithSharedTypes();
    // A document that only received the state holds bare types: nothing says what kind each is.
    const received = replica(written);
    for (const ydoc of [written, received]) {
      const json = documentJson(ydoc);
      expect(json).toEqual(EXPECTED_JSON);
      expect(Object.getPrototypeOf(json['meta'])).toBe(Object.prototype);
      expect(JSON.parse(exportDocument(ydoc, 'json'))).toEqual(EXPECTED_JSON);
    }
  });

  it('reads without changing the document: its state, and the kinds of its types', () => {
    const received = replica(documentWithSharedTypes());
    const before = stateOf(received);
    const kinds = [...received.share.entries()].map(([name, type]) => [name, type.constructor]);
    for (const format of EXPORT_FORMATS) exportDocument(received, format);
    expect(stateOf(received)).toEqual(before);
    expect([...received.share.entries()].map(([name, type]) => [name, type.constructor])).toEqual(kinds);
    // A name is still free to be given its kind, as the editor and other clients will.
    expect(received.getMap('meta').get('title')).toBe('Notes');
    expect(received.getXmlFragment(FRAGMENT_NAME).length).toBe(1);
  });

  it('gives null for a type that holds nothing telling its kind, and {} for a map whose keys were deleted', () => {
    const source = new Y.Doc();
    source.getArray('emptied').push([1]);
    source.getArray('emptied').delete(0, 1);
    source.getMap('cleared').set('k', 1);
    source.getMap('cleared').delete('k');
    const json = documentJson(replica(source));
    expect(json['emptied']).toBeNull();
    expect(json['cleared']).toEqual({});
    expect(json.prosemirror).toEqual(doc(paragraph()).toJSON());
  });

  it('exports the content in every format', () => {
    const content = everyNodeAndMark();
    const ydoc = ydocOf(content);
    for (const format of ['markdown', 'html', 'json'] as const) {
      expect(parseDocument(exportDocument(ydoc, format), format).eq(content)).toBe(true);
    }
  });

  it('gives the text, blocks separated by blank lines', () => {
    const content = doc(
      node('heading', { level: 1 }, 'Title'),
      paragraph('One', node('hard_break', null), 'line ', text('two', 'em'), ' ', node('image', { src: 'x.png', alt: 'a picture', title: null })),
      node('horizontal_rule', null),
      node('blockquote', null, paragraph('quoted')),
      node('bullet_list', null, node('list_item', null, paragraph('item'))),
      node('code_block', null, 'code\n  indented'),
    );
    expect(toText(content)).toBe('Title\n\nOne\nline two a picture\n\nquoted\n\nitem\n\ncode\n  indented');
    expect(exportDocument(ydocOf(content), 'text')).toBe(toText(content));
  });

  it('refuses to export content the editor could not show whole, and leaves it in place', () => {
    const ydoc = ydocOf(doc(paragraph('kept')));
    const fragment = ydoc.getXmlFragment(FRAGMENT_NAME);
    const table = new Y.XmlElement('table');
    table.insert(0, [new Y.XmlText('cell')]);
    fragment.insert(1, [table]);
    const before = stateOf(ydoc);
    for (const format of EXPORT_FORMATS) {
      expect(() => exportDocument(ydoc, format)).toThrow(UnreadableContentError);
    }
    expect(() => exportDocument(ydoc, 'html')).toThrow(
      'The document cannot be converted without loss: it holds a "table" element, which this editor does not know.',
    );
    expect(stateOf(ydoc)).toEqual(before);
    expect(fragment.toString()).toBe('<paragraph>kept</paragraph><table>cell</table>');
  });

  it('refuses shared values nested deeper than the editor shows', () => {
    const ydoc = new Y.Doc();
    let map = ydoc.getMap<unknown>('deep');
    for (let i = 0; i < 300; i++) {
      const inner = new Y.Map<unknown>();
      map.set('inner', inner);
      map = inner;
    }
    expect(() => documentJson(ydoc)).toThrow('its shared values are nested more than 200 deep');
  });

  it('refuses a document whose prosemirror part is not an XML fragment', () => {
    const source = new Y.Doc();
    source.getMap(FRAGMENT_NAME).set('not', 'content');
    for (const ydoc of [source, replica(source)]) {
      expect(() => exportDocument(ydoc, 'json')).toThrow('its "prosemirror" part is a shared map, not the editor\'s XML fragment');
    }
  });
});
