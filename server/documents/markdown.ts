/**
 * The document's content as Markdown, both ways, with prosemirror-markdown over markdown-it.
 *
 * Reading is strict: markdown-it's "default" preset recognises tables, strikethrough and raw HTML,
 * so that Markdown using them is refused by name, rather than kept as stray characters or dropped,
 * and what the parser could not place is refused too (see `weightOf`). Knowingly not kept: a
 * fence's info string (the language of a code block), for which the schema's code block has no
 * attribute. Markdown means what CommonMark says: a line break inside a paragraph is a space.
 *
 * Writing is prosemirror-markdown's default serializer, which knows every node and mark of this
 * schema, with links always written `[text](target)` and targets, titles and text escaped so
 * that they read back as they were. Markdown cannot say an empty paragraph or a trailing hard
 * break: those are left out.
 */
import MarkdownIt, { type MarkdownItOptions, type Token } from 'markdown-it';
import type { Node } from 'prosemirror-model';
import { defaultMarkdownSerializer, MarkdownParser, MarkdownSerializer } from 'prosemirror-markdown';
import { MAX_DEPTH } from '../../protocol/document/content-check.js';
import { schema } from '../../protocol/document/schema.js';
import { checkContent, linkTarget, tooDeep, visibleLength, weightOf } from './content.js';
import { ContentError } from './errors.js';

/** What the scan of the tokens leaves for the parse: the weight (see `weightOf`) the result must have. */
interface ScanEnv {
  weight?: number;
}

/** markdown-it's options, with the one its types leave out. */
type TokenizerOptions = MarkdownItOptions & { maxNesting: number };

const tokenizer = new MarkdownIt('default', {
  html: true,
  linkify: false,
  typographer: false,
  // Past this, markdown-it skips the rest of a block without a word; the scan refuses any block at
  // the last level it parses, so that the skipping never goes unnoticed.
  maxNesting: MAX_DEPTH + 1,
} satisfies TokenizerOptions as MarkdownItOptions);
// Every link becomes a link token, so that `safeHref` decides: an unsafe one is refused rather
// than kept as bracketed text. (Image sources are not links: the schema takes any.)
tokenizer.validateLink = () => true;
// Targets are kept as written (markdown-it would percent-encode them), so that they read back as
// they were exported; browsers and `safeHref` read them either way.
tokenizer.normalizeLink = (url) => url;
tokenizer.core.ruler.push('document_scan', (state) => {
  (state.env as ScanEnv).weight = scan(state.tokens);
});

const parser = new MarkdownParser(schema, tokenizer, {
  blockquote: { block: 'blockquote' },
  paragraph: { block: 'paragraph' },
  list_item: { block: 'list_item' },
  bullet_list: { block: 'bullet_list' },
  ordered_list: { block: 'ordered_list', getAttrs: (token) => ({ order: token.attrGet('start') === null ? 1 : Number(token.attrGet('start')) }) },
  heading: { block: 'heading', getAttrs: (token) => ({ level: Number(token.tag.slice(1)) }) },
  code_block: { block: 'code_block', noCloseToken: true },
  fence: { block: 'code_block', noCloseToken: true },
  hr: { node: 'horizontal_rule' },
  image: {
    node: 'image',
    getAttrs: (token) => ({ src: token.attrGet('src') ?? '', title: token.attrGet('title') || null, alt: altText(token.children ?? []) || null }),
  },
  hardbreak: { node: 'hard_break' },
  em: { mark: 'em' },
  strong: { mark: 'strong' },
  link: { mark: 'link', getAttrs: (token) => ({ href: linkTarget(token.attrGet('href') ?? ''), title: token.attrGet('title') || null }) },
  code_inline: { mark: 'code', noCloseToken: true },
});

/** The tokens the parser above turns into nodes and marks; any other is refused. */
const SUPPORTED: ReadonlySet<string> = new Set([
  ...['paragraph', 'heading', 'blockquote', 'bullet_list', 'ordered_list', 'list_item', 'em', 'strong', 'link'].flatMap((name) => [
    `${name}_open`,
    `${name}_close`,
  ]),
  ...['inline', 'code_block', 'fence', 'hr', 'text', 'softbreak', 'hardbreak', 'image', 'code_inline'],
]);

/**
 * `source` as a document of the schema. Throws `ContentError`: `unsupported-content` naming the
 * construct and its line, `unsafe-link`, `too-deep`, or `invalid-document`.
 */
export function parseMarkdown(source: string): Node {
  const env: ScanEnv = {};
  const doc = parser.parse(source, env);
  checkContent(doc);
  if (env.weight !== undefined && weightOf(doc) !== env.weight) {
    throw new ContentError('unsupported-content', 'the Markdown holds content the document has no place for (some of its text or images would be lost)');
  }
  return doc;
}

/**
 * Refuses what the parser would drop, and what is nested too deep, before any node is built; returns the
 * weight of what the document must hold. `tokens` is flat for blocks, with one level of inline children.
 */
function scan(tokens: readonly Token[]): number {
  let weight = 0;
  for (const token of tokens) {
    // A block at level n is an element at depth n + 1; an inline token is no element.
    if (token.type !== 'inline' && token.nesting !== -1 && token.level >= MAX_DEPTH) throw tooDeep();
    refuseUnsupported(token, token);
    weight += weightOfToken(token);
    for (const child of token.children ?? []) {
      refuseUnsupported(child, token);
      weight += weightOfToken(child);
      // An image's children are its alt text, which only has to be supported (and, unlike other
      // inline tokens, keeps its escapes and entities as `text_special` tokens).
      for (const alt of child.type === 'image' ? (child.children ?? []) : []) if (alt.type !== 'text_special') refuseUnsupported(alt, token);
    }
  }
  return weight;
}

function weightOfToken(token: Token): number {
  switch (token.type) {
    case 'text':
    case 'code_inline':
    case 'code_block':
    case 'fence':
      return visibleLength(token.content);
    case 'hr':
    case 'image':
    case 'hardbreak':
      return 1;
    default:
      return 0;
  }
}

function refuseUnsupported(token: Token, block: Token): void {
  if (SUPPORTED.has(token.type)) return;
  const line = block.map === null ? '' : ` (line ${block.map[0] + 1})`;
  throw new ContentError('unsupported-content', `the Markdown holds ${describe(token)}${line}, which the document has no place for`);
}

function describe(token: Token): string {
  if (/^(table|thead|tbody|tr|th|td)_/.test(token.type)) return 'a table';
  if (token.type.startsWith('s_')) return 'strikethrough (~~text~~)';
  if (token.type === 'html_block' || token.type === 'html_inline') {
    const html = token.content.trim();
    return `HTML (${JSON.stringify(html.length > 40 ? `${html.slice(0, 40)}…` : html)})`;
  }
  return `a "${token.type}" token`;
}

/** An image's alt text: the text of its description, without the formatting Markdown allows in it. */
function altText(children: readonly Token[]): string {
  let text = '';
  for (const child of children) {
    if (child.type === 'text' || child.type === 'text_special' || child.type === 'code_inline') text += child.content;
    else if (child.type === 'softbreak' || child.type === 'hardbreak') text += ' ';
    else if (child.type === 'image') text += altText(child.children ?? []);
  }
  return text;
}

/** `&` starting what reads as an entity, in text and link targets alike. */
const ENTITY_START = /&(?=#?[A-Za-z0-9]+;)/g;

const serializer = new MarkdownSerializer(
  {
    ...defaultMarkdownSerializer.nodes,
    image(state, node) {
      const attrs = node.attrs as { src: string; alt: string | null; title: string | null };
      state.write(`![${state.esc(attrs.alt ?? '')}](${destination(attrs.src)}${title(attrs.title)})`);
    },
  },
  {
    ...defaultMarkdownSerializer.marks,
    // Always `[text](href)`, never the `<href>` autolink, which only some hrefs can be.
    link: {
      open: '[',
      close: (_state, mark) => `](${destination(String(mark.attrs['href']))}${title(mark.attrs['title'] as string | null)})`,
      mixable: true,
    },
  },
  // Text that would read back as something else: `<` opening a tag or autolink, `&` an entity,
  // `1)` starting a list (the serializer escapes `1.` itself).
  { escapeExtraCharacters: new RegExp(`<(?=[A-Za-z/!?])|${ENTITY_START.source}|(?<=^\\s*\\d{1,9})\\)`, 'g') },
);

/** The content of `doc` as CommonMark. Trailing hard breaks and empty paragraphs, which Markdown cannot say, are left out. */
export function toMarkdown(doc: Node): string {
  return serializer.serialize(doc);
}

/** A link destination that reads back as `url`: in angle brackets when it holds spaces or brackets. */
function destination(url: string): string {
  const escaped = url.replace(/\\/g, '\\\\').replace(ENTITY_START, '\\&');
  return /[\s<>]/.test(url) ? `<${escaped.replace(/[<>]/g, '\\$&')}>` : escaped.replace(/[()]/g, '\\$&');
}

function title(value: string | null): string {
  return value ? ` "${value.replace(/["\\]/g, '\\$&').replace(ENTITY_START, '\\&')}"` : '';
}
