/** The schema and the formatting commands, on plain editor states (no browser needed). */
import { Schema, type Node } from 'prosemirror-model';
import { AllSelection, EditorState, TextSelection, type Command } from 'prosemirror-state';
import { describe, expect, it } from 'vitest';
import {
  activeLink,
  inList,
  insertHorizontalRule,
  markActive,
  setLink,
  toggleBlockquote,
  toggleBold,
  toggleBulletList,
  toggleCodeBlock,
  toggleHeading,
  toggleOrderedList,
} from '../../editor/src/commands.js';
import { isDocumentName } from '../../protocol/document-name.js';
import { safeHref, schema } from '../../protocol/document/schema.js';
import { tokenClaims, tokenMode, tokenPermissions } from '../../editor/src/token.js';
import { token } from '../helpers/tokens.js';

const { nodes, marks } = schema;

/** A document with one paragraph of `text`, the selection from `from` to `to` (text offsets). */
function stateWith(text: string, from: number, to = from): EditorState {
  const doc = nodes['doc']!.create(null, nodes['paragraph']!.create(null, schema.text(text)));
  return EditorState.create({ doc, selection: TextSelection.create(doc, from + 1, to + 1) });
}

const p = (text = '') => nodes['paragraph']!.create(null, text === '' ? null : schema.text(text));
const li = (...content: Node[]) => nodes['list_item']!.create(null, content);
const ul = (...items: Node[]) => nodes['bullet_list']!.create(null, items);
const _ol = (...items: Node[]) => nodes['ordered_list']!.create(null, items);

/** A state of `blocks` with the caret where the text holds `|` (which is removed). */
function withCaret(...blocks: Node[]): EditorState {
  const doc = nodes['doc']!.create(null, blocks);
  let caret = -1;
  doc.descendants((node, pos) => {
    const index = node.isText ? node.text!.indexOf('|') : -1;
    if (caret < 0 && index >= 0) caret = pos + index;
  });
  if (caret < 0) throw new RangeError('no | in the text to put the caret at');
  const state = EditorState.create({ doc });
  const tr = state.tr.delete(caret, caret + 1);
  return state.apply(tr.setSelection(TextSelection.create(tr.doc, caret)));
}

/** `state` after typing `text` where the selection is, as a keystroke does (replacing a selected node). */
function typed(state: EditorState, text: string): EditorState {
  return state.apply(state.tr.insertText(text));
}

function run(state: EditorState, command: Command): EditorState {
  let next = state;
  expect(command(state, (tr) => (next = state.apply(tr)))).toBe(true);
  return next;
}

/** A token-shaped string with `claims` as its payload (no valid signature: the editor never checks one). */
const unsigned = (claims: unknown): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

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
    for (const href of [
      'java\tscript:alert(1)',
      'java\nscript:alert(1)',
      'java\rscript:alert(1)',
      '\x01javascript:alert(1)',
      ' \x00javascript:alert(1)',
      'javascript:alert(1)\x1f',
      'jav\tascr\nipt:alert(1)',
      '\tdata:text/html,x',
      'vbscript:x',
    ]) {
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

  it('switches a list between bullets and numbers, keeping its items and their nesting', () => {
    const bullets = withCaret(ul(li(p('a')), li(p('b|'))));
    const numbered = run(bullets, toggleOrderedList);
    expect(numbered.doc.toString()).toBe('doc(ordered_list(list_item(paragraph("a")), list_item(paragraph("b"))))');
    expect(inList(numbered, nodes['ordered_list']!)).toBe(true);
    expect(inList(numbered, nodes['bullet_list']!)).toBe(false);
    expect(run(numbered, toggleBulletList).doc.toString()).toBe('doc(bullet_list(list_item(paragraph("a")), list_item(paragraph("b"))))');
    // A list of one item: the other button is enabled, and switches.
    const single = withCaret(ul(li(p('a|'))));
    expect(toggleOrderedList(single)).toBe(true);
    expect(run(single, toggleOrderedList).doc.toString()).toBe('doc(ordered_list(list_item(paragraph("a"))))');
    // Only the innermost list around the caret changes.
    const nested = withCaret(ul(li(p('a'), ul(li(p('b|')))), li(p('c'))));
    expect(run(nested, toggleOrderedList).doc.toString()).toBe(
      'doc(bullet_list(list_item(paragraph("a"), ordered_list(list_item(paragraph("b")))), list_item(paragraph("c"))))',
    );
    // The list's own type still lifts the item out of it.
    expect(run(numbered, toggleOrderedList).doc.toString()).toBe('doc(ordered_list(list_item(paragraph("a"))), paragraph("b"))');
  });

  it('acts on everything selected (Ctrl+A): switches or lifts out a list holding it all, and makes paragraphs and lists one list', () => {
    const listed = withCaret(ul(li(p('a')), li(p('b|'))));
    const all = listed.apply(listed.tr.setSelection(new AllSelection(listed.doc)));
    expect(inList(all, nodes['bullet_list']!)).toBe(true);
    expect(inList(all, nodes['ordered_list']!)).toBe(false);
    expect(run(all, toggleOrderedList).doc.toString()).toBe('doc(ordered_list(list_item(paragraph("a")), list_item(paragraph("b"))))');
    expect(run(all, toggleBulletList).doc.toString()).toBe('doc(paragraph("a"), paragraph("b"))');
    // Paragraphs and lists selected together: one list of them all, not lists nested in an item.
    const mixed = withCaret(p('x|'), ul(li(p('a')), li(p('b'))), p('y'));
    const everything = mixed.apply(mixed.tr.setSelection(new AllSelection(mixed.doc)));
    expect(inList(everything, nodes['bullet_list']!)).toBe(false);
    const numbered = run(everything, toggleOrderedList);
    expect(numbered.doc.toString()).toBe(
      'doc(ordered_list(list_item(paragraph("x")), list_item(paragraph("a")), list_item(paragraph("b")), list_item(paragraph("y"))))',
    );
    expect(run(everything, toggleBulletList).doc.firstChild!.type.name).toBe('bullet_list');
    expect(run(everything, toggleBulletList).doc.childCount).toBe(1);
  });

  it('toggles a blockquote and a code block', () => {
    expect(run(stateWith('quote', 1), toggleBlockquote).doc.firstChild!.type.name).toBe('blockquote');
    const code = run(stateWith('x = 1', 1), toggleCodeBlock);
    expect(code.doc.firstChild!.type.name).toBe('code_block');
    expect(run(code, toggleCodeBlock).doc.firstChild!.type.name).toBe('paragraph');
  });

  it('inserts a rule and goes on typing after it, wherever the caret is', () => {
    const typedAfter = (state: EditorState) => typed(run(state, insertHorizontalRule), 'X').doc.toString();
    const rule = 'horizontal_rule';
    // An empty line, as after "Intro" and Enter, and an empty document: the rule goes above the line.
    expect(typedAfter(withCaret(p('Intro'), p('|')))).toBe(`doc(paragraph("Intro"), ${rule}, paragraph("X"))`);
    expect(typedAfter(withCaret(p('|')))).toBe(`doc(${rule}, paragraph("X"))`);
    // The middle of a paragraph splits it; its start puts the rule above it.
    expect(typedAfter(withCaret(p('ab|cd')))).toBe(`doc(paragraph("ab"), ${rule}, paragraph("Xcd"))`);
    expect(typedAfter(withCaret(p('|abc')))).toBe(`doc(${rule}, paragraph("Xabc"))`);
    // The end of a paragraph, of the document or before a list: a new line after the rule.
    expect(typedAfter(withCaret(p('abc|')))).toBe(`doc(paragraph("abc"), ${rule}, paragraph("X"))`);
    expect(typedAfter(withCaret(p('abc|'), ul(li(p('a')))))).toBe(`doc(paragraph("abc"), ${rule}, paragraph("X"), bullet_list(list_item(paragraph("a"))))`);
    // In a list item: the rule and the new line stay in the item.
    expect(typedAfter(withCaret(ul(li(p('a|')), li(p('b')))))).toBe(
      `doc(bullet_list(list_item(paragraph("a"), ${rule}, paragraph("X")), list_item(paragraph("b"))))`,
    );
    // Selected text is replaced by the rule.
    const selected = stateWith('one two three', 4, 8);
    expect(typed(run(selected, insertHorizontalRule), 'X').doc.toString()).toBe(`doc(paragraph("one "), ${rule}, paragraph("Xthree"))`);
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
    for (const name of ['', '/lead', 'trail/', 'a//b', 'a/../b', 'has space', 'per%cent', '\u0301mark-first', 'a/\u0301b'])
      expect(isDocumentName(name), name).toBe(false);
  });

  it('reads the mode and admin claims of tokens the server mints', async () => {
    expect(tokenClaims(await token('doc', 'rw', { admin: true, sub: 'Zoë 文書' }))).toEqual({ mode: 'rw', admin: true });
    expect(tokenClaims(await token('doc', 'ro'))).toEqual({ mode: 'ro', admin: false });
    expect(tokenMode(await token('team/*', 'rw'))).toBe('rw');
  });

  it('reads nothing from what is not a JWT with a JSON object payload', () => {
    expect(tokenMode(unsigned({ doc: 'a' }))).toBeNull();
    for (const bad of [
      'not a token',
      'a.b',
      'a.!!!.c',
      `e30.${Buffer.from('[1]').toString('base64url')}.x`,
      `e30.${Buffer.from([0xff, 0xfe]).toString('base64url')}.x`,
    ]) {
      expect(tokenClaims(bad), bad).toBeNull();
    }
    // `admin` only when it is exactly true.
    expect(tokenClaims(unsigned({ mode: 'rw', admin: 'true' }))).toEqual({ mode: 'rw', admin: false });
  });

  it('offers everything without a token, nothing needing admin for an unreadable one, and admin only with rw', () => {
    expect(tokenPermissions(undefined)).toEqual({ write: true, admin: true });
    expect(tokenPermissions('opaque')).toEqual({ write: true, admin: false });
    expect(tokenPermissions(unsigned({ mode: 'ro', admin: true }))).toEqual({ write: false, admin: false });
    expect(tokenPermissions(unsigned({ mode: 'rw', admin: true }))).toEqual({ write: true, admin: true });
    expect(tokenPermissions(unsigned({ mode: 'rw' }))).toEqual({ write: true, admin: false });
  });
});
