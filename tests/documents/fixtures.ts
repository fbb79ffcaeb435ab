/**
 * Documents for the tests of `server/documents/`: one holding every node and mark of the schema,
 * and Y.Docs made from ProseMirror docs as the editor makes them.
 */
import type { Mark, Node } from 'prosemirror-model';
import { prosemirrorToYXmlFragment } from 'y-prosemirror';
import * as Y from 'yjs';
import { FRAGMENT_NAME, schema } from '../../protocol/document/schema.js';

/** A node of `type` holding `content` (text given as strings). */
export function node(type: string, attrs: Record<string, unknown> | null, ...content: Array<Node | string>): Node {
  return schema.node(
    type,
    attrs,
    content.map((child) => (typeof child === 'string' ? schema.text(child) : child)),
  );
}

/** Text with marks, each a mark name or a mark. */
export function text(value: string, ...marks: Array<string | Mark>): Node {
  return schema.text(
    value,
    marks.map((mark) => (typeof mark === 'string' ? schema.mark(mark) : mark)),
  );
}

export function doc(...blocks: Node[]): Node {
  return node('doc', null, ...blocks);
}

export function paragraph(...content: Array<Node | string>): Node {
  return node('paragraph', null, ...content);
}

/**
 * Every node and mark of the schema, with the attributes each can have: headings 1 to 6, quotes
 * and lists nested, a list starting at 3, a code block with backticks in it, images with and
 * without a title, links with and without one, marks overlapping, and text that looks like
 * Markdown or HTML.
 */
export function everyNodeAndMark(): Node {
  const link = schema.mark('link', { href: 'https://example.com/a?b=c&d=e', title: 'The "example"' });
  const plainLink = schema.mark('link', { href: '/relative/path', title: null });
  return doc(
    ...[1, 2, 3, 4, 5, 6].map((level) => node('heading', { level }, `Heading ${level} `, text('emphasised', 'em'))),
    paragraph(
      'Plain, ',
      text('strong', 'strong'),
      ', ',
      text('both', 'strong', 'em'),
      text(' emphasised', 'em'),
      ', ',
      text('code', 'code'),
      ', a ',
      text('titled link', link),
      ' and ',
      text('a link', plainLink),
      '.',
      node('hard_break', null),
      'After a break: * _ [brackets] <b>not bold</b> AT&amp;T \\ back.',
    ),
    paragraph(
      node('image', { src: 'https://example.com/picture.png', alt: 'A picture', title: 'Its title' }),
      ' and ',
      node('image', { src: 'plain.png', alt: 'no title', title: null }),
    ),
    paragraph('# not a heading, 1. not a list'),
    node(
      'blockquote',
      null,
      paragraph('Quoted ', text('text', 'strong')),
      paragraph('A second quoted paragraph.'),
      node('bullet_list', null, item('quoted item')),
    ),
    node('code_block', null, 'const fence = "```";\nif (a < b && c) {\n  return `d`;\n}'),
    node('horizontal_rule', null),
    node(
      'bullet_list',
      null,
      item('first item'),
      node('list_item', null, paragraph('second item'), paragraph('its second paragraph'), node('ordered_list', { order: 3 }, item('three'), item('four'))),
    ),
    node('ordered_list', { order: 1 }, item('one'), item('two')),
    paragraph('The end.'),
  );
}

/** A list item holding one paragraph. */
export function item(value: string): Node {
  return node('list_item', null, paragraph(value));
}

/** A Y.Doc whose `prosemirror` fragment holds `content`, written as the editor writes it. */
export function ydocOf(content: Node, options: { gc?: boolean } = {}): Y.Doc {
  const ydoc = new Y.Doc(options);
  prosemirrorToYXmlFragment(content, ydoc.getXmlFragment(FRAGMENT_NAME));
  return ydoc;
}

/** A copy of `ydoc` (its state applied to a new document), as another client holds it. */
export function replica(ydoc: Y.Doc): Y.Doc {
  const copy = new Y.Doc({ gc: ydoc.gc });
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(ydoc));
  return copy;
}

/** What shows that a document was not changed: its whole encoded state. */
export function stateOf(ydoc: Y.Doc): { state: Uint8Array; vector: Uint8Array } {
  return { state: Y.encodeStateAsUpdate(ydoc), vector: Y.encodeStateVector(ydoc) };
}
