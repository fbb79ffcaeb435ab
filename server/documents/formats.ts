/**
 * The forms a document's content is given in and asked for: the entry points of the documents API.
 *
 * Export reads the document through a copy and never changes it; it refuses, with
 * `UnreadableContentError`, a document the editor could not show whole, rather than give a part of
 * it as if it were all. Parsing refuses, with `ContentError`, whatever the schema has no place for.
 */
import type { Node } from 'prosemirror-model';
import type * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { contentOf, readContent } from './content.js';
import { DocCopy } from './doc-copy.js';
import { parseHtml, toHtml } from './html.js';
import { parseMarkdown, toMarkdown } from './markdown.js';
import { parseProseMirrorJson } from './prosemirror-json.js';
import { type JsonValue, jsonOf } from './shared-values.js';

export const EXPORT_FORMATS = ['json', 'text', 'markdown', 'html'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const IMPORT_FORMATS = ['json', 'markdown', 'html'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** The media type of each export, for a response's `Content-Type`. */
export const MEDIA_TYPES: Readonly<Record<ExportFormat, string>> = {
  json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/**
 * The whole document as JSON: `prosemirror` holds the editor's content as ProseMirror JSON, and
 * every other top-level shared type is under its name, as `jsonOf` gives it (a map as an object,
 * an array as a list, a text as its string, an XML fragment as its XML). A type that holds nothing
 * and was never named in `doc` is `null`: nothing says whether it is a map, a list or a text.
 */
export type DocumentJson = { prosemirror: JsonValue } & { [name: string]: JsonValue };

/** See `DocumentJson`. `doc` is not changed. Throws `UnreadableContentError`. */
export function documentJson(doc: Y.Doc): DocumentJson {
  const copy = new DocCopy(doc);
  const json: DocumentJson = { prosemirror: contentOf(copy.contentFragment()).toJSON() as JsonValue };
  for (const name of copy.names().sort()) {
    if (name === FRAGMENT_NAME) continue;
    const shared = copy.shared(name);
    // `defineProperty`: a type may be named `__proto__`.
    Object.defineProperty(json, name, { value: shared === null ? null : jsonOf(shared.type), enumerable: true, writable: true, configurable: true });
  }
  return json;
}

/** `doc` in `format` (see `MEDIA_TYPES`). `doc` is not changed. Throws `UnreadableContentError`. */
export function exportDocument(doc: Y.Doc, format: ExportFormat): string {
  if (format === 'json') return JSON.stringify(documentJson(doc));
  const content = readContent(doc);
  switch (format) {
    case 'text':
      return toText(content);
    case 'markdown':
      return toMarkdown(content);
    case 'html':
      return toHtml(content);
  }
}

/**
 * The text of `doc`: its text blocks separated by blank lines, a hard break as a line break, an
 * image as its alt text; rules and formatting leave nothing.
 */
export function toText(doc: Node): string {
  return doc.textBetween(0, doc.content.size, '\n\n', (leaf) => {
    if (leaf.type.name === 'hard_break') return '\n';
    if (leaf.type.name === 'image') return String(leaf.attrs['alt'] ?? '');
    return '';
  });
}

/** `body` in `format` as a document of the schema. Throws `ContentError` saying what is wrong. */
export function parseDocument(body: string, format: ImportFormat): Node {
  switch (format) {
    case 'json':
      return parseProseMirrorJson(body);
    case 'markdown':
      return parseMarkdown(body);
    case 'html':
      return parseHtml(body);
  }
}
