/**
 * `ContentCheck`: what the editor will not open because y-prosemirror would delete it, throw on it,
 * or strip it (see `editor/src/content-check.ts`); and that it opens everything the editor writes.
 * The hostile shapes are those a probe found breaking or wiping the editor in Chromium.
 */
import { describe, expect, it } from 'vitest';
import { prosemirrorToYXmlFragment, ySyncPluginKey } from 'y-prosemirror';
import * as Y from 'yjs';
import { EditorState } from 'prosemirror-state';
import { ContentCheck, MAX_DEPTH } from '../../protocol/document/content-check.js';
import { depthLimit } from '../../editor/src/depth-limit.js';
import { FRAGMENT_NAME, schema } from '../../protocol/document/schema.js';

const { nodes, marks } = schema;

function element(name: string, children: Array<Y.XmlElement | Y.XmlText | Y.XmlHook | Y.Map<unknown>> = [], attrs: Record<string, unknown> = {}): Y.XmlElement {
  const el = new Y.XmlElement(name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value as string);
  el.insert(0, children as Y.XmlElement[]);
  return el;
}

function text(content: string, attributes?: Record<string, unknown>): Y.XmlText {
  const t = new Y.XmlText();
  t.insert(0, content, attributes);
  return t;
}

const paragraph = (content: string) => element('paragraph', [text(content)]);

/** A document whose fragment holds a paragraph, what `build` puts there, and another paragraph. */
function documentWith(build: (fragment: Y.XmlFragment, doc: Y.Doc) => void): { doc: Y.Doc; check: ContentCheck } {
  const doc = new Y.Doc();
  const fragment = doc.getXmlFragment(FRAGMENT_NAME);
  const check = new ContentCheck(fragment, schema);
  fragment.insert(0, [paragraph('before')]);
  build(fragment, doc);
  fragment.push([paragraph('after')]);
  return { doc, check };
}

function nested(depth: number): Y.XmlElement {
  let inner = paragraph('deep');
  for (let i = 0; i < depth; i++) inner = element('blockquote', [inner]);
  return inner;
}

describe('ContentCheck', () => {
  it('opens everything the editor itself writes: every node and mark of its schema', () => {
    const pm = nodes['doc']!.create(null, [
      nodes['heading']!.create({ level: 2 }, schema.text('Title')),
      nodes['paragraph']!.create(null, [
        schema.text('bold', [marks['strong']!.create()]),
        schema.text(' both', [marks['strong']!.create(), marks['em']!.create()]),
        schema.text(' code', [marks['code']!.create()]),
        schema.text(' link', [marks['link']!.create({ href: 'https://example.com', title: 'x' })]),
        nodes['hard_break']!.create(),
        nodes['image']!.create({ src: 'https://example.com/a.png', alt: 'a', title: null }),
      ]),
      nodes['blockquote']!.create(null, nodes['paragraph']!.create(null, schema.text('quoted'))),
      nodes['bullet_list']!.create(null, nodes['list_item']!.create(null, nodes['paragraph']!.create(null, schema.text('item')))),
      nodes['ordered_list']!.create({ order: 3 }, nodes['list_item']!.create(null, nodes['paragraph']!.create())),
      nodes['code_block']!.create(null, schema.text('let x = 1;')),
      nodes['horizontal_rule']!.create(),
    ]);
    const doc = new Y.Doc();
    const fragment = doc.getXmlFragment(FRAGMENT_NAME);
    prosemirrorToYXmlFragment(pm, fragment);
    expect(new ContentCheck(fragment, schema).problem()).toBeNull();
    // An empty document (a new one), and nesting up to the limit.
    expect(new ContentCheck(new Y.Doc().getXmlFragment(FRAGMENT_NAME), schema).problem()).toBeNull();
    const deep = documentWith((f) => f.push([nested(MAX_DEPTH - 2)]));
    expect(deep.check.problem()).toBeNull();
  });

  it('lets y-prosemirror repair what concurrent edits leave and holds nothing: an empty list, nested empties', () => {
    // Two people each lifting one item out of the same list, offline, leave it empty.
    const emptyList = documentWith((f) => f.push([element('bullet_list'), element('blockquote', [element('ordered_list', [element('list_item')])])]));
    expect(emptyList.check.problem()).toBeNull();
    // A list item left at the top level is wrapped in a list: nothing dropped.
    const looseItem = documentWith((f) => f.push([element('list_item', [paragraph('kept')])]));
    expect(looseItem.check.problem()).toBeNull();
  });

  const refused: Array<[string, (fragment: Y.XmlFragment, doc: Y.Doc) => void, RegExp]> = [
    [
      'an unknown block (content of a newer version or another app)',
      (f) => f.push([element('callout', [paragraph('inside')], { kind: 'warning' })]),
      /"callout" element, which this editor does not know/,
    ],
    [
      'an unknown inline node',
      (f) => f.push([element('paragraph', [text('Hi '), element('mention', [], { id: 'u42' }), text(' there')])]),
      /"mention" element/,
    ],
    ['an unknown mark', (f) => f.push([element('paragraph', [text('plain '), text('lit', { highlight: {} })])]), /formatted with "highlight"/],
    [
      'an attribute the node does not have',
      (f) => f.push([element('paragraph', [text('centered')], { align: 'center' })]),
      /"paragraph" element has a "align" attribute/,
    ],
    [
      'an attribute the mark does not have',
      (f) => f.push([element('paragraph', [text('link', { link: { href: 'https://a.example', title: null, rel: 'sponsored' } })])]),
      /"link" formatting has a "rel" attribute/,
    ],
    [
      'a heading inside a paragraph',
      (f) => f.push([element('paragraph', [element('heading', [text('h')], { level: 2 })])]),
      /"paragraph" element does not fit/,
    ],
    ['a paragraph straight in a list', (f) => f.push([element('bullet_list', [paragraph('item')])]), /"bullet_list" element does not fit/],
    [
      'an attribute named like an inherited property',
      (f) => f.push([element('paragraph', [text('p')], { constructor: 'keep-me' })]),
      /"constructor" attribute/,
    ],
    [
      'a "ychange" attribute (y-prosemirror never stores one, and drops it on edit)',
      (f) => f.push([element('paragraph', [text('p')], { ychange: { type: 'added' } })]),
      /"ychange" attribute/,
    ],
    ['"ychange" formatting', (f) => f.push([element('paragraph', [text('tracked', { ychange: { type: 'added', user: 'x' } })])]), /formatted with "ychange"/],
    [
      'formatting hidden behind a "__proto__" key',
      (f) => {
        const t = new Y.XmlText();
        t.insert(0, 'victim', JSON.parse('{"__proto__": {"highlight": {"color": "yellow"}}}') as Record<string, unknown>);
        f.push([element('paragraph', [t])]);
      },
      /"highlight"/,
    ],
    [
      'two links on the same text',
      (f) => {
        const t = new Y.XmlText();
        t.insert(0, 'two links', { link: { href: 'https://a.example/', title: null }, 'link--AAAAAAAA': { href: 'https://b.example/', title: null } });
        f.push([element('paragraph', [t])]);
      },
      /"link" formatting together with formatting that excludes it/,
    ],
    ['text at the top level', (f) => f.push([text('loose')]), /holds text where the editor expects/],
    ['a hook at the top level', (f) => f.push([new Y.XmlHook('widget') as unknown as Y.XmlElement]), /holds a hook/],
    ['a hook in a paragraph', (f) => f.push([element('paragraph', [text('x'), new Y.XmlHook('widget')])]), /holds a hook/],
    ['a map in a paragraph', (f) => f.push([element('paragraph', [text('x'), new Y.Map()])]), /holds a shared/],
    [
      'an embed in text',
      (f) => {
        const t = new Y.XmlText();
        t.insert(0, 'ab');
        t.insertEmbed(1, { foo: 1 });
        f.push([element('paragraph', [t])]);
      },
      /its text holds a JSON value/,
    ],
    [
      'a string at the top level (the name used as a Y.Text)',
      (_f, doc) => {
        const other = new Y.Doc();
        other.getText(FRAGMENT_NAME).insert(0, 'S');
        Y.applyUpdate(doc, Y.encodeStateAsUpdate(other));
      },
      /holds a string/,
    ],
    ['a horizontal rule with text in it', (f) => f.push([element('horizontal_rule', [text('x')])]), /"horizontal_rule" element does not fit/],
    ['a "doc" inside the document', (f) => f.push([element('doc', [paragraph('nested')])]), /"doc" element/],
    ['a "text" element', (f) => f.push([element('text', [text('x')])]), /"text" element does not fit/],
    [
      "nesting past the limit (2,000 deep overflows the browser editor's stack)",
      (f) => f.push([nested(500)]),
      new RegExp(`nested more than ${MAX_DEPTH} deep`),
    ],
    [
      'a mark attribute of the wrong kind',
      (f) => f.push([element('paragraph', [text('odd', { link: { href: { a: 1 }, title: null } })])]),
      /"link" formatting does not fit .*Expected value of type string/,
    ],
  ];
  for (const [what, build, reason] of refused) {
    it(`refuses ${what}, saying why`, () => {
      const { check } = documentWith(build);
      expect(check.problem()).toMatch(reason);
    });
  }

  it('follows changes: refuses once bad content arrives, and opens again once it is gone', () => {
    const { doc, check } = documentWith(() => undefined);
    const fragment = doc.getXmlFragment(FRAGMENT_NAME);
    doc.on('afterTransaction', (transaction: Y.Transaction) => check.changed(transaction));
    expect(check.problem()).toBeNull();
    const first = fragment.get(0) as Y.XmlElement;
    (first.get(0) as Y.XmlText).insert(0, 'x', { highlight: {} });
    expect(check.problem()).toMatch(/"highlight"/);
    (first.get(0) as Y.XmlText).delete(0, 1);
    expect(check.problem()).toBeNull();
    // A change deep down, under elements built before, is seen too.
    const quote = element('blockquote', [element('blockquote', [paragraph('q')])]);
    fragment.push([quote]);
    expect(check.problem()).toBeNull();
    ((quote.get(0) as Y.XmlElement).get(0) as Y.XmlElement).setAttribute('align', 'left');
    expect(check.problem()).toMatch(/"align" attribute/);
    ((quote.get(0) as Y.XmlElement).get(0) as Y.XmlElement).removeAttribute('align');
    expect(check.problem()).toBeNull();
  });
});

describe('depthLimit', () => {
  /** Whether the state takes the transaction (a filtered one leaves it as it was). */
  const takes = (state: EditorState, transaction: ReturnType<EditorState['tr']['setMeta']>) => state.applyTransaction(transaction).state !== state;
  const quoted = (levels: number) => {
    let node = nodes['paragraph']!.create(null, schema.text('deep'));
    for (let i = 0; i < levels; i++) node = nodes['blockquote']!.create(null, node);
    return node;
  };

  it('refuses an edit that nests blocks deeper than the content check shows, and takes one at the limit', () => {
    const state = EditorState.create({ schema, plugins: [depthLimit(4)] });
    const at = (levels: number) => state.tr.replaceWith(0, state.doc.content.size, quoted(levels));
    // Three quotes around a paragraph: the paragraph is nested four deep.
    expect(takes(state, at(3))).toBe(true);
    expect(takes(state, at(4))).toBe(false);
    // Typing, which changes no nesting, goes through.
    expect(takes(state, state.tr.insertText('x', 1))).toBe(true);
  });

  it('looks only at what the edit touched', () => {
    // A document already nested past the limit in one place (written by another client).
    const doc = nodes['doc']!.create(null, [nodes['paragraph']!.create(null, schema.text('shallow')), quoted(4)]);
    const state = EditorState.create({ schema, doc, plugins: [depthLimit(4)] });
    expect(takes(state, state.tr.insertText('x', 1))).toBe(true);
    const deepText = doc.content.size - 'deep'.length - 5;
    expect(state.doc.textBetween(deepText, deepText + 4)).toBe('deep');
    expect(takes(state, state.tr.insertText('x', deepText))).toBe(false);
  });

  it('lets y-prosemirror show the shared document, which the content check has passed', () => {
    const state = EditorState.create({ schema, plugins: [depthLimit(4)] });
    const render = state.tr.replaceWith(0, state.doc.content.size, quoted(5)).setMeta(ySyncPluginKey, { isChangeOrigin: true });
    expect(takes(state, render)).toBe(true);
  });

  it(`uses the limit of the content check (${MAX_DEPTH}) by default`, () => {
    const state = EditorState.create({ schema, plugins: [depthLimit()] });
    expect(takes(state, state.tr.replaceWith(0, state.doc.content.size, quoted(MAX_DEPTH - 1)))).toBe(true);
    expect(takes(state, state.tr.replaceWith(0, state.doc.content.size, quoted(MAX_DEPTH)))).toBe(false);
  });
});
