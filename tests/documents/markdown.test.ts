import { describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { ContentError } from '../../server/documents/errors.js';
import { parseMarkdown, toMarkdown } from '../../server/documents/markdown.js';
import { doc, everyNodeAndMark, item, node, paragraph, text } from './fixtures.js';

/** The `ContentError` that parsing `source` throws. */
function refusal(source: string): ContentError {
  try {
    parseMarkdown(source);
  } catch (error) {
    if (error instanceof ContentError) return error;
    throw error;
  }
  throw new Error('the Markdown was accepted');
}

describe('Markdown', () => {
  it('reads back what it writes of a document holding every node and mark', () => {
    const content = everyNodeAndMark();
    expect(parseMarkdown(toMarkdown(content)).toJSON()).toEqual(content.toJSON());
  });

  it('writes link targets, titles and alt texts that read back as they were', () => {
    const link = schema.mark('link', { href: 'https://a.example/?a=1&amp;b=2&copy=3 (x)\\(y)', title: 'a &amp; "b" <c>\\' });
    const content = doc(
      paragraph(text('link', link), node('image', { src: 'p.png?a&amp;b c', alt: '&lt; alt "q" ` [x] \\', title: 't' })),
      paragraph('1) not a list, <b>not HTML</b>, &lt; not an entity'),
    );
    expect(parseMarkdown(toMarkdown(content)).toJSON()).toEqual(content.toJSON());
  });

  it('reads representative Markdown into the schema, and writes it back in its own style', () => {
    const source = [
      'Title',
      '=====',
      '',
      'Some _em_, __strong__, `code` and a [link](https://example.com "hint").  ',
      'After a break, an autolink <https://example.com/x>.',
      '',
      '> quoted',
      '',
      '0. zero',
      '1. one',
      '',
      '- x',
      '  - nested',
      '',
      '```js',
      'let x = 1;',
      '```',
      '',
      '***',
      '',
      '![alt *text*](picture.png)',
    ].join('\n');
    const content = parseMarkdown(source);
    const link = schema.mark('link', { href: 'https://example.com', title: 'hint' });
    const autolink = schema.mark('link', { href: 'https://example.com/x', title: null });
    expect(content.toJSON()).toEqual(
      doc(
        node('heading', { level: 1 }, 'Title'),
        paragraph(
          'Some ',
          text('em', 'em'),
          ', ',
          text('strong', 'strong'),
          ', ',
          text('code', 'code'),
          ' and a ',
          text('link', link),
          '.',
          node('hard_break', null),
          'After a break, an autolink ',
          text('https://example.com/x', autolink),
          '.',
        ),
        node('blockquote', null, paragraph('quoted')),
        node('ordered_list', { order: 0 }, item('zero'), item('one')),
        node('bullet_list', null, node('list_item', null, paragraph('x'), node('bullet_list', null, item('nested')))),
        // The fence's info string (the language) has no place in the schema's code block.
        node('code_block', null, 'let x = 1;'),
        node('horizontal_rule', null),
        paragraph(node('image', { src: 'picture.png', alt: 'alt text', title: null })),
      ).toJSON(),
    );
    const written = toMarkdown(content);
    expect(written).toBe(
      [
        '# Title',
        '',
        'Some *em*, **strong**, `code` and a [link](https://example.com "hint").\\',
        'After a break, an autolink [https://example.com/x](https://example.com/x).',
        '',
        '> quoted',
        '',
        '0. zero',
        '',
        '1. one',
        '',
        '* x',
        '',
        '  * nested',
        '',
        '```',
        'let x = 1;',
        '```',
        '',
        '---',
        '',
        '![alt text](picture.png)',
      ].join('\n'),
    );
    expect(parseMarkdown(written).eq(content)).toBe(true);
  });

  it('reads an empty body as an empty document', () => {
    expect(parseMarkdown('').toJSON()).toEqual(doc(paragraph()).toJSON());
  });

  it.each([
    ['| a | b |\n|---|---|\n| 1 | 2 |', 'the Markdown holds a table (line 1), which the document has no place for'],
    ['Some ~~struck~~ text', 'the Markdown holds strikethrough (~~text~~) (line 1), which the document has no place for'],
    ['Text\n\n<div>\nblock\n</div>', 'the Markdown holds HTML ("<div>\\nblock\\n</div>") (line 3), which the document has no place for'],
    ['Some <b>bold</b> text', 'the Markdown holds HTML ("<b>") (line 1), which the document has no place for'],
    ['<!-- a comment -->', 'the Markdown holds HTML ("<!-- a comment -->") (line 1), which the document has no place for'],
    ['![an <b>image</b>](x.png)', 'the Markdown holds HTML ("<b>") (line 1), which the document has no place for'],
  ])('refuses what the schema has no place for: %j', (source, message) => {
    const error = refusal(source);
    expect(error.code).toBe('unsupported-content');
    expect(error.message).toBe(message);
  });

  it.each([
    ['[click](javascript:alert(1))', 'javascript:alert(1)'],
    ['[click](JavaScript:alert(1))', 'JavaScript:alert(1)'],
    ['[click](data:text/html;base64,PHNjcmlwdD4=)', 'data:text/html;base64,PHNjcmlwdD4='],
    ['[click](<java\tscript:alert(1)>)', 'java\tscript:alert(1)'],
  ])('refuses an unsafe link target: %j', (source, href) => {
    const error = refusal(source);
    expect(error.code).toBe('unsafe-link');
    expect(error.message).toBe(`the link target ${JSON.stringify(href)} is not allowed: a link must be http, https, mailto or relative`);
  });

  it(`takes quotes nested ${MAX_DEPTH} deep and refuses one more`, () => {
    // Each quote is an element, and so is the paragraph in the deepest.
    const deepest = parseMarkdown(`${'>'.repeat(MAX_DEPTH - 1)} deep`);
    let depth = 0;
    for (let at = deepest.firstChild; at !== null; at = at.firstChild) if (!at.isText) depth += 1;
    expect(depth).toBe(MAX_DEPTH);
    expect(refusal(`${'>'.repeat(MAX_DEPTH)} deep`).code).toBe('too-deep');
  });

  it('refuses quotes and lists nested 10,000 deep, quickly and without overflowing the stack', () => {
    const started = performance.now();
    for (const source of [`${'>'.repeat(10_000)} deep`, `${'> '.repeat(10_000)}deep`, `${'- '.repeat(10_000)}x`]) {
      const error = refusal(source);
      expect(error.code).toBe('too-deep');
      expect(error.message).toBe(`the content is nested more than ${MAX_DEPTH} levels deep (quotes, lists and their items each count one)`);
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
