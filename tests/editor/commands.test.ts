/** The schema and the formatting commands, on plain editor states (no browser needed). */
import { Schema } from 'prosemirror-model';
import { EditorState, TextSelection, type Command } from 'prosemirror-state';
import { describe, expect, it } from 'vitest';
import {
  activeLink,
  inList,
  markActive,
  setLink,
  toggleBlockquote,
  toggleBold,
  toggleBulletList,
  toggleCodeBlock,
  toggleHeading,
} from '../../editor/src/commands.js';
import { isDocumentName } from '../../server/sync/document-name.js';
import { safeHref, schema } from '../../editor/src/schema.js';
import { tokenMode } from '../../editor/src/session.js';

const { nodes, marks } = schema;

/** A document with one paragraph of `text`, the selection from `from` to `to` (text offsets). */
function stateWith(text: string, from: number, to = from): EditorState {
  const doc = nodes['doc']!.create(null, nodes['paragraph']!.create(null, schema.text(text)));
  return EditorState.create({ doc, selection: TextSelection.create(doc, from + 1, to + 1) });
}

function run(state: EditorState, command: Command): EditorState {
  let next = state;
  expect(command(state, (tr) => (next = state.apply(tr)))).toBe(true);
  return next;
}

describe('schema', () => {
  it('has every node and mark the editor offers, under the names stored in documents', () => {
    expect(schema).toBeInstanceOf(Schema);
    for (const name of ['paragraph', 'heading', 'blockquote', 'code_block', 'horizontal_rule', 'hard_break', 'bullet_list', 'ordered_list', 'list_item']) {
      expect(nodes[name], name).toBeDefined();
    }
    for (const name of ['strong', 'em', 'code', 'link']) expect(marks[name], name).toBeDefined();
  });

  it('never renders a script link', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref(' JavaScript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('https://example.com/a')).toBe('https://example.com/a');
    expect(safeHref('mailto:a@example.com')).toBe('mailto:a@example.com');
    expect(safeHref('/d/notes')).toBe('/d/notes');
    const spec = marks['link']!.spec.toDOM!(marks['link']!.create({ href: 'javascript:alert(1)' }), true) as [string, Record<string, string>];
    expect(spec[1]['href']).toBeUndefined();
  });

  it('reads the scheme as the browser does, so nothing the URL parser drops can hide a script', () => {
    // The URL parser removes tabs and newlines anywhere, and C0 controls and spaces at either end.
    for (const href of ['java\tscript:alert(1)', 'java\nscript:alert(1)', 'java\rscript:alert(1)', '\x01javascript:alert(1)', ' \x00javascript:alert(1)', 'javascript:alert(1)\x1f', 'jav\tascr\nipt:alert(1)', '\tdata:text/html,x', 'vbscript:x']) {
      expect(safeHref(href), JSON.stringify(href)).toBeNull();
      expect(new URL(href, 'https://example.com/').protocol, JSON.stringify(href)).not.toMatch(/^https?:$/);
    }
    expect(safeHref('\x01https://exa\tmple.com/a ')).toBe('https://example.com/a');
    expect(safeHref('notes/today#top')).toBe('notes/today#top');
    expect(safeHref('//example.com/a')).toBe('//example.com/a');
    expect(safeHref('\x01\t ')).toBeNull();
    expect(safeHref('http://')).toBeNull();
  });
});

describe('commands', () => {
  it('toggles bold over the selection', () => {
    const bold = run(stateWith('hello world', 0, 5), toggleBold);
    expect(markActive(bold, marks['strong']!)).toBe(true);
    expect(markActive(run(bold, toggleBold), marks['strong']!)).toBe(false);
  });

  it('turns a paragraph into a heading and back', () => {
    const heading = run(stateWith('Title', 2), toggleHeading(2));
    expect(heading.doc.firstChild!.type.name).toBe('heading');
    expect(heading.doc.firstChild!.attrs['level']).toBe(2);
    expect(run(heading, toggleHeading(2)).doc.firstChild!.type.name).toBe('paragraph');
    expect(() => toggleHeading(7)).toThrow(RangeError);
  });

  it('wraps in a list and lifts out of it', () => {
    const listed = run(stateWith('item', 1), toggleBulletList);
    expect(listed.doc.firstChild!.type.name).toBe('bullet_list');
    expect(inList(listed, nodes['bullet_list']!)).toBe(true);
    expect(run(listed, toggleBulletList).doc.firstChild!.type.name).toBe('paragraph');
  });

  it('toggles a blockquote and a code block', () => {
    expect(run(stateWith('quote', 1), toggleBlockquote).doc.firstChild!.type.name).toBe('blockquote');
    const code = run(stateWith('x = 1', 1), toggleCodeBlock);
    expect(code.doc.firstChild!.type.name).toBe('code_block');
    expect(run(code, toggleCodeBlock).doc.firstChild!.type.name).toBe('paragraph');
  });

  it('links the selection, refuses unsafe addresses, and unlinks around the caret', () => {
    const linked = run(stateWith('see docs here', 4, 8), setLink('https://example.com'));
    const inside = linked.apply(linked.tr.setSelection(TextSelection.create(linked.doc, 7)));
    expect(activeLink(inside)).toBe('https://example.com');
    expect(setLink('javascript:alert(1)')(stateWith('see docs', 4, 8))).toBe(false);
    expect(setLink('java\tscript:alert(1)')(stateWith('see docs', 4, 8))).toBe(false);
    const unlinked = run(inside, setLink(null));
    expect(unlinked.doc.rangeHasMark(0, unlinked.doc.content.size, marks['link']!)).toBe(false);
  });
});

describe('names and tokens', () => {
  it('accepts the names the server accepts', () => {
    const marked = ['हिन्दी', 'தமிழ்', 'বাংলা', 'عَرَبِيّ', 'cafe\u0301'];
    for (const name of ['notes', 'team/notes', 'a-b_c.d~e:f@g', 'Ünïcode/文書', ...marked]) expect(isDocumentName(name), name).toBe(true);
    for (const name of ['', '/lead', 'trail/', 'a//b', 'a/../b', 'has space', 'per%cent', '\u0301mark-first', 'a/\u0301b']) expect(isDocumentName(name), name).toBe(false);
  });

  it('reads the mode claim of a token without verifying it', () => {
    const token = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    expect(tokenMode(token({ doc: 'a', mode: 'ro' }))).toBe('ro');
    expect(tokenMode(token({ doc: 'a', mode: 'rw' }))).toBe('rw');
    expect(tokenMode(token({ doc: 'a' }))).toBeNull();
    expect(tokenMode('not a token')).toBeNull();
  });
});
