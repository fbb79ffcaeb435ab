import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { readContent } from '../../server/documents/content.js';
import { ContentError, UnreadableContentError } from '../../server/documents/errors.js';
import { replaceContent } from '../../server/documents/replace.js';
import { doc, everyNodeAndMark, item, node, paragraph, replica, stateOf, text, ydocOf } from './fixtures.js';

/** The id of the item holding the `index`th child of the content (a block). */
function blockId(ydoc: Y.Doc, index: number): Y.ID {
  return (ydoc.getXmlFragment(FRAGMENT_NAME).get(index) as Y.XmlElement)._item!.id;
}

/** The text run of the `index`th block, a paragraph or heading. */
function textOf(ydoc: Y.Doc, index: number): Y.XmlText {
  return (ydoc.getXmlFragment(FRAGMENT_NAME).get(index) as Y.XmlElement).get(0) as Y.XmlText;
}

/** A small generator (mulberry32) whose sequence a seed decides. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('replacing the content', () => {
  it('gives the update that makes the content the target, without changing the document', () => {
    const ydoc = ydocOf(doc(paragraph('Old content')));
    const before = stateOf(ydoc);
    const target = everyNodeAndMark();
    const update = replaceContent(ydoc, target);
    expect(update).toBeInstanceOf(Uint8Array);
    expect(stateOf(ydoc)).toEqual(before);
    Y.applyUpdate(ydoc, update!);
    expect(readContent(ydoc).toJSON()).toEqual(target.toJSON());
  });

  it('gives null when the content is the target already', () => {
    const content = everyNodeAndMark();
    expect(replaceContent(ydocOf(content), content)).toBeNull();
  });

  it('writes into a document that has no content yet, and into one whose types were never named', () => {
    const target = doc(paragraph('first words'));
    for (const ydoc of [new Y.Doc(), replica(ydocOf(doc(paragraph('x'))))]) {
      const update = replaceContent(ydoc, target);
      Y.applyUpdate(ydoc, update!);
      expect(readContent(ydoc).eq(target)).toBe(true);
    }
  });

  it('keeps the items of what does not change, and makes an update the size of the change', () => {
    const words = 'A paragraph that stays as it is, long enough to weigh in an update. '.repeat(20);
    const start = [1, 2, 3, 4].map((n) => paragraph(`${n} ${words}`));
    const ydoc = ydocOf(doc(...start));
    const ids = [0, 1, 2, 3].map((index) => blockId(ydoc, index));
    const target = doc(start[0]!, paragraph(`2 ${words}changed`), start[2]!, start[3]!, paragraph('new'));
    const update = replaceContent(ydoc, target)!;
    expect(update.length).toBeLessThan(words.length);
    Y.applyUpdate(ydoc, update);
    expect(readContent(ydoc).eq(target)).toBe(true);
    // Every paragraph is the same item: the second kept its element, its text was edited.
    expect([0, 1, 2, 3].map((index) => blockId(ydoc, index))).toEqual(ids);
    // A deletion keeps what is around it. (The diff matches from both ends, as y-prosemirror's
    // editor does: a paragraph between two changes may be rewritten in place of another.)
    const deletion = replaceContent(ydoc, doc(target.child(0), target.child(1), target.child(3), target.child(4)))!;
    Y.applyUpdate(ydoc, deletion);
    expect([0, 1, 2].map((index) => blockId(ydoc, index))).toEqual([ids[0], ids[1], ids[3]]);
  });

  it('changes one mark for another on the same text, which y-prosemirror takes for unchanged', () => {
    const ydoc = ydocOf(doc(paragraph('delta', text(' marked', 'code')), paragraph(text('both', 'em', 'strong'))));
    const target = doc(paragraph('delta', text(' marked', 'strong')), paragraph(text('both', 'strong', 'code')));
    Y.applyUpdate(ydoc, replaceContent(ydoc, target)!);
    expect(readContent(ydoc).toJSON()).toEqual(target.toJSON());
  });

  it('converges with an edit made at the same time elsewhere, which it keeps where it did not change', () => {
    const start = doc(paragraph('Unchanged paragraph.'), paragraph('Replaced paragraph.'), node('bullet_list', null, item('item')));
    const here = ydocOf(start);
    const there = replica(here);
    const target = doc(
      paragraph('Unchanged paragraph.'),
      node('heading', { level: 2 }, 'A heading now'),
      node('bullet_list', null, item('item'), item('another')),
    );
    const replace = replaceContent(here, target)!;
    Y.applyUpdate(here, replace);
    // Meanwhile, someone types at the end of the first paragraph.
    const typed: Uint8Array[] = [];
    there.on('update', (update: Uint8Array) => typed.push(update));
    textOf(there, 0).insert('Unchanged paragraph.'.length, ' Typed meanwhile.');
    Y.applyUpdate(there, replace);
    for (const update of typed) Y.applyUpdate(here, update);
    expect(Y.encodeStateAsUpdate(here)).toEqual(Y.encodeStateAsUpdate(there));
    const expected = doc(paragraph('Unchanged paragraph. Typed meanwhile.'), ...target.content.content.slice(1));
    expect(readContent(here).toJSON()).toEqual(expected.toJSON());
    expect(readContent(there).toJSON()).toEqual(expected.toJSON());
  });

  it('converges with random concurrent edits, over random replacements (seeded)', () => {
    const seed = Number(process.env['DOCUMENTS_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`replace convergence seed: ${seed} (DOCUMENTS_SEED=${seed} replays it)`);
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const block = () => {
      const line = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(words)).join(' ');
      const choice = next();
      if (choice < 0.6) return paragraph(line, ...(next() < 0.3 ? [text(' marked', pick(['em', 'strong', 'code']))] : []));
      if (choice < 0.8) return node('heading', { level: 1 + Math.floor(next() * 6) }, line);
      return node('bullet_list', null, item(line));
    };
    const content = () => doc(...Array.from({ length: 1 + Math.floor(next() * 5) }, block));
    for (let round = 0; round < 50; round++) {
      const here = ydocOf(content());
      const there = replica(here);
      const target = content();
      const replace = replaceContent(here, target);
      const typed: Uint8Array[] = [];
      there.on('update', (update: Uint8Array) => typed.push(update));
      const fragment = there.getXmlFragment(FRAGMENT_NAME);
      const edited = fragment.get(Math.floor(next() * fragment.length)) as Y.XmlElement;
      const run = edited.nodeName === 'bullet_list' ? ((edited.get(0) as Y.XmlElement).get(0) as Y.XmlElement).get(0) : edited.get(0);
      if (next() < 0.8 && run instanceof Y.XmlText) run.insert(Math.floor(next() * (run.length + 1)), pick(words));
      else fragment.delete(fragment.toArray().indexOf(edited), 1);
      if (replace !== null) {
        Y.applyUpdate(here, replace);
        Y.applyUpdate(there, replace);
      }
      for (const update of typed) Y.applyUpdate(here, update);
      expect(Y.encodeStateAsUpdate(here), `round ${round}`).toEqual(Y.encodeStateAsUpdate(there));
      expect(readContent(here).eq(readContent(there)), `round ${round}`).toBe(true);
    }
  });

  it('refuses when the current content cannot be read whole, since the edit would delete it', () => {
    const ydoc = ydocOf(doc(paragraph('kept')));
    ydoc.getXmlFragment(FRAGMENT_NAME).insert(1, [new Y.XmlElement('table')]);
    const before = stateOf(ydoc);
    expect(() => replaceContent(ydoc, doc(paragraph('new')))).toThrow(UnreadableContentError);
    expect(() => replaceContent(ydoc, doc(paragraph('new')))).toThrow('it holds a "table" element, which this editor does not know');
    expect(stateOf(ydoc)).toEqual(before);
  });

  it('refuses a target nested deeper than the editor shows', () => {
    let deep = paragraph('deep');
    for (let i = 0; i < MAX_DEPTH; i++) deep = node('blockquote', null, deep);
    const ydoc = ydocOf(doc(paragraph('x')));
    expect(() => replaceContent(ydoc, doc(deep))).toThrow(ContentError);
  });
});
