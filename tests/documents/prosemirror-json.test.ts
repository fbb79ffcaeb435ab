import { describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { ContentError } from '../../server/documents/errors.js';
import { documentFromJson, parseProseMirrorJson } from '../../server/documents/prosemirror-json.js';
import { doc, everyNodeAndMark, paragraph } from './fixtures.js';

/** The `ContentError` that reading `value` (a string is read as the body) throws. */
function refusal(value: unknown): ContentError {
  try {
    if (typeof value === 'string') parseProseMirrorJson(value);
    else documentFromJson(value);
  } catch (error) {
    if (error instanceof ContentError) return error;
    throw error;
  }
  throw new Error('the JSON was accepted');
}

/** A doc's JSON nested `depth` quotes deep, built without recursion. */
function nestedQuotes(depth: number): unknown {
  let json: unknown = { type: 'paragraph', content: [{ type: 'text', text: 'deep' }] };
  for (let i = 0; i < depth; i++) json = { type: 'blockquote', content: [json] };
  return { type: 'doc', content: [json] };
}

describe('ProseMirror JSON', () => {
  it('reads back a document holding every node and mark, bare and as the json export gives it', () => {
    const content = everyNodeAndMark();
    expect(documentFromJson(content.toJSON()).eq(content)).toBe(true);
    expect(parseProseMirrorJson(JSON.stringify(content.toJSON())).eq(content)).toBe(true);
    expect(parseProseMirrorJson(JSON.stringify({ prosemirror: content.toJSON(), meta: { title: 'x' } })).eq(content)).toBe(true);
  });

  it.each([
    ['{"type": "doc",', 'invalid-json', /^the body is not JSON \(.+\)$/],
    [[], 'invalid-document', 'the document is not a node (an object with a "type")'],
    [{ content: [] }, 'invalid-document', 'the document has no "type" naming the node'],
    [{ type: 'paragraph' }, 'invalid-document', 'the document is a "paragraph", where a "doc" is expected'],
    [{ type: 'doc', content: [{ type: 'doc' }] }, 'invalid-document', 'content[0] is a "doc" inside the document'],
    [
      { type: 'doc', content: [{ type: 'paragraph' }, { type: 'table', content: [] }] },
      'invalid-document',
      'content[1] is a "table" node, which the document\'s schema does not have',
    ],
    [
      { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks: [{ type: 'strike' }] }] }] },
      'invalid-document',
      'content[0].content[0].marks[0] is a "strike" mark, which the document\'s schema does not have',
    ],
    [
      { type: 'doc', content: [{ type: 'heading', attrs: { level: 2, id: 'intro' }, content: [] }] },
      'invalid-document',
      'content[0] has a "id" attribute, which a "heading" does not have',
    ],
    [
      { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks: [{ type: 'link', attrs: { href: '/', rel: 'me' } }] }] }] },
      'invalid-document',
      'content[0].content[0].marks[0] has a "rel" attribute, which a "link" does not have',
    ],
    [{ type: 'doc', content: [{ type: 'paragraph', style: 'color: red' }] }, 'invalid-document', 'content[0] has a "style" key, which a node does not have'],
    [{ type: 'doc', content: [{ type: 'heading', attrs: { level: 7 } }] }, 'invalid-document', 'content[0] is a heading of level 7: the level is 1 to 6'],
    [
      { type: 'doc', content: [{ type: 'ordered_list', attrs: { order: -1 }, content: [] }] },
      'invalid-document',
      'content[0] is a list starting at -1: a list starts at a whole number',
    ],
    [{ type: 'doc', content: [{ type: 'paragraph', content: 'text' }] }, 'invalid-document', 'content[0] has "content" that is not a list'],
    [
      { type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'paragraph' }] }] },
      'invalid-document',
      /^the content does not fit the document's schema: Invalid content for node paragraph/,
    ],
    [{ type: 'doc', content: [] }, 'invalid-document', /^the content does not fit the document's schema: Invalid content for node doc/],
    [
      { type: 'doc', content: [{ type: 'image', attrs: { alt: 'no src' } }] },
      'invalid-document',
      /^the JSON is not a document of the schema: No value supplied for attribute src/,
    ],
    [{ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] }, 'invalid-document', /Empty text nodes are not allowed/],
    [
      {
        type: 'doc',
        content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks: [{ type: 'link', attrs: { href: 'javascript:alert(1)' } }] }] }],
      },
      'unsafe-link',
      'the link target "javascript:alert(1)" is not allowed: a link must be http, https, mailto or relative',
    ],
  ])('refuses %j', (value, code, message) => {
    const error = refusal(value);
    expect(error.code).toBe(code);
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it(`takes quotes nested ${MAX_DEPTH} deep and refuses one more`, () => {
    // The quotes and the paragraph in the deepest are elements; text is not.
    expect(documentFromJson(nestedQuotes(MAX_DEPTH - 1)).childCount).toBe(1);
    expect(refusal(nestedQuotes(MAX_DEPTH)).code).toBe('too-deep');
  });

  it('refuses a quote nested 10,000 deep without overflowing the stack', () => {
    // Built as a string: `JSON.stringify` of so deep a value would itself overflow.
    const body = `{"type":"doc","content":[${'{"type":"blockquote","content":['.repeat(10_000)}{"type":"paragraph"}${']}'.repeat(10_000)}]}`;
    const error = refusal(body);
    expect(error.code).toBe('too-deep');
    expect(error.message).toBe(`the content is nested more than ${MAX_DEPTH} levels deep (quotes, lists and their items each count one)`);
    expect(refusal(nestedQuotes(10_000)).code).toBe('too-deep');
  });

  it('reads the prosemirror key only when the value is not itself a node', () => {
    expect(refusal({ type: 'doc', prosemirror: doc(paragraph('x')).toJSON() }).message).toBe(
      'the document has a "prosemirror" key, which a node does not have',
    );
  });
});
