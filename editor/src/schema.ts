/**
 * The document schema shared by every client of a document.
 *
 * It is prosemirror-schema-basic's schema (paragraph, headings 1-6, blockquote, code block,
 * horizontal rule, hard break, image; bold, italic, inline code, links) with
 * prosemirror-schema-list's bullet and ordered lists added. The node and mark names are what
 * y-prosemirror stores in the `prosemirror` XmlFragment, so they are part of the document format:
 * other Yjs clients write `paragraph`, `heading` (attribute `level`), `bullet_list`, `list_item`,
 * `strong`, `em`, ... and renaming one would make existing documents unreadable.
 */
import { Schema } from 'prosemirror-model';
import { schema as basic } from 'prosemirror-schema-basic';
import { addListNodes } from 'prosemirror-schema-list';

export const schema: Schema = new Schema({
  nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'),
  marks: basic.spec.marks.update('link', {
    ...basic.spec.marks.get('link'),
    // Any client can write any href into the shared document, so what is rendered is checked here.
    toDOM(mark) {
      const href = safeHref(String(mark.attrs['href'] ?? ''));
      const title = mark.attrs['title'] === null ? {} : { title: String(mark.attrs['title']) };
      return ['a', { ...(href === null ? {} : { href }), ...title, rel: 'noopener noreferrer nofollow', target: '_blank' }, 0];
    },
  }),
});

/**
 * Returns `href` if it is safe to put in a link (http, https, mailto, or relative), else `null`.
 * Scripts (`javascript:`, `data:`, ...) never become a link target.
 */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  if (trimmed === '') return null;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined) return trimmed;
  return scheme === 'http' || scheme === 'https' || scheme === 'mailto' ? trimmed : null;
}

/** The name of the XmlFragment, in the document's Y.Doc, that holds the editor's content. */
export const FRAGMENT_NAME = 'prosemirror';
