import { describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { ContentError } from '../../server/documents/errors.js';
import { MAX_HTML_DEPTH, parseHtml, toHtml } from '../../server/documents/html.js';
import { doc, everyNodeAndMark, item, node, paragraph, text } from './fixtures.js';

/** The `ContentError` that parsing `source` throws. */
function refusal(source: string): ContentError {
  try {
    parseHtml(source);
  } catch (error) {
    if (error instanceof ContentError) return error;
    throw error;
  }
  throw new Error('the HTML was accepted');
}

describe('HTML', () => {
  it('reads back what it writes of a document holding every node and mark', () => {
    const content = everyNodeAndMark();
    expect(parseHtml(toHtml(content)).toJSON()).toEqual(content.toJSON());
  });

  it('escapes attribute values, so that targets holding entities read back as they were', () => {
    const link = schema.mark('link', { href: 'https://a.example/?a=1&amp;b=2&copy=3', title: 'a &amp; "b" <c>' });
    const content = doc(paragraph(text('link', link), node('image', { src: 'p.png?a&amp;b', alt: '&lt; "alt"', title: null })));
    const html = toHtml(content);
    expect(html).toContain('href="https://a.example/?a=1&amp;amp;b=2&amp;copy=3"');
    expect(parseHtml(html).toJSON()).toEqual(content.toJSON());
  });

  it('writes no target for a link whose target is unsafe (the schema renders it so)', () => {
    const content = doc(paragraph(text('bad', schema.mark('link', { href: 'javascript:alert(1)', title: null }))));
    expect(toHtml(content)).toBe('<p><a rel="noopener noreferrer nofollow" target="_blank">bad</a></p>');
  });

  it('reads a whole page, with grouping elements, formatting elements and styles', () => {
    const page = `<!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title></title></head>
      <body>
        <div class="note"><section><h2>Title</h2>
          <p>Some <b>bold</b>, <i>italic</i>, <span style="font-weight: bold">styled</span> and <A HREF="https://example.com" TITLE="t">linked</A> text<br>on two lines.</p>
        </section></div>
        <!-- a comment -->
        <ul><li>loose item</li><li><p>item</p></li></ul>
        <ol start="3"><li>three</li></ol>
        <pre><code><span class="kw">let</span> x = 1;
x += 1;</code></pre>
        <article><blockquote>quoted</blockquote><hr><img src="a.png" alt="A"></article>
      </body></html>`;
    const link = schema.mark('link', { href: 'https://example.com', title: 't' });
    const expected = doc(
      node('heading', { level: 2 }, 'Title'),
      paragraph(
        'Some ',
        text('bold', 'strong'),
        ', ',
        text('italic', 'em'),
        ', ',
        text('styled', 'strong'),
        ' and ',
        text('linked', link),
        ' text',
        node('hard_break', null),
        'on two lines.',
      ),
      node('bullet_list', null, item('loose item'), item('item')),
      node('ordered_list', { order: 3 }, item('three')),
      node('code_block', null, 'let x = 1;\nx += 1;'),
      node('blockquote', null, paragraph('quoted')),
      node('horizontal_rule', null),
      paragraph(node('image', { src: 'a.png', alt: 'A', title: null })),
    );
    const content = parseHtml(page);
    expect(content.toJSON()).toEqual(expected.toJSON());
    expect(toHtml(content)).toBe(
      '<h2>Title</h2><p>Some <strong>bold</strong>, <em>italic</em>, <strong>styled</strong> and ' +
        '<a href="https://example.com" rel="noopener noreferrer nofollow" target="_blank" title="t">linked</a> text<br>on two lines.</p>' +
        '<ul><li><p>loose item</p></li><li><p>item</p></li></ul><ol start="3"><li><p>three</p></li></ol>' +
        '<pre><code>let x = 1;\nx += 1;</code></pre><blockquote><p>quoted</p></blockquote><hr><p><img alt="A" src="a.png"></p>',
    );
  });

  it('reads a fragment, and plain text', () => {
    expect(parseHtml('<p>one</p><p>two</p>').toJSON()).toEqual(doc(paragraph('one'), paragraph('two')).toJSON());
    expect(parseHtml('just text').toJSON()).toEqual(doc(paragraph('just text')).toJSON());
    expect(parseHtml('').toJSON()).toEqual(doc(paragraph()).toJSON());
  });

  it.each([
    ['<table><tr><td>cell</td></tr></table>', '<table>'],
    ['<p>x</p><script>alert(1)</script>', '<script>'],
    ['<style>p { color: red }</style><p>x</p>', '<style>'],
    ['<iframe src="https://example.com"></iframe>', '<iframe>'],
    ['<video src="v.mp4">no video</video>', '<video>'],
    ['<form><input name="q"></form>', '<form>'],
    ['<svg><circle r="1"/></svg>', '<svg>'],
    ['<p><u>underlined</u></p>', '<u>'],
    ['<p><s>struck</s></p>', '<s>'],
    ['<p><sub>2</sub></p>', '<sub>'],
    ['<html><head><link rel="stylesheet" href="s.css"></head><body><p>x</p></body></html>', '<link> in the <head>'],
    ['<html><head><title>Page</title></head><body><p>x</p></body></html>', 'a <title> with text (a page title is not part of the document)'],
    ['<p>x</p><img alt="no source">', 'an <img> without a src'],
    ['<pre><b>bold</b> code</pre>', '<b> inside <pre> (a code block holds plain text)'],
  ])('refuses what the schema has no place for: %j', (source, what) => {
    const error = refusal(source);
    expect(error.code).toBe('unsupported-content');
    expect(error.message).toBe(`the HTML holds ${what}, which the document has no place for`);
  });

  it.each([
    ['<a href="javascript:alert(1)">x</a>', 'javascript:alert(1)'],
    ['<a HREF="javascript:alert(1)">x</a>', 'javascript:alert(1)'],
    ['<a href=" jav&#x09;ascript:alert(1)">x</a>', ' jav\tascript:alert(1)'],
    ['<a href="data:text/html,<script>alert(1)</script>">x</a>', 'data:text/html,<script>alert(1)</script>'],
  ])('refuses an unsafe link target: %j', (source, href) => {
    const error = refusal(source);
    expect(error.code).toBe('unsafe-link');
    expect(error.message).toBe(`the link target ${JSON.stringify(href)} is not allowed: a link must be http, https, mailto or relative`);
  });

  it(`takes quotes nested ${MAX_DEPTH} deep and refuses one more`, () => {
    const nested = (depth: number): string => `<div>${'<blockquote>'.repeat(depth - 1)}<p>deep</p>${'</blockquote>'.repeat(depth - 1)}</div>`;
    expect(parseHtml(nested(MAX_DEPTH)).childCount).toBe(1);
    expect(refusal(nested(MAX_DEPTH + 1)).code).toBe('too-deep');
  });

  it('refuses elements nested 10,000 deep without overflowing the stack, grouping elements too', () => {
    const quotes = `${'<blockquote>'.repeat(10_000)}deep${'</blockquote>'.repeat(10_000)}`;
    const quoteError = refusal(quotes);
    expect(quoteError.code).toBe('too-deep');
    expect(quoteError.message).toBe(`the content is nested more than ${MAX_DEPTH} levels deep (quotes, lists and their items each count one)`);
    // Unclosed, as a browser would close them.
    expect(refusal(`${'<blockquote>'.repeat(10_000)}deep`).code).toBe('too-deep');
    const spans = `<p>${'<span>'.repeat(10_000)}deep${'</span>'.repeat(10_000)}</p>`;
    const spanError = refusal(spans);
    expect(spanError.code).toBe('too-deep');
    expect(spanError.message).toBe(`the HTML elements are nested more than ${MAX_HTML_DEPTH} deep`);
  });
});
