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
    // Pasted HTML: a link whose target is unsafe is pasted as its text only.
    parseDOM: [
      {
        tag: 'a[href]',
        getAttrs(dom: HTMLElement) {
          const href = safeHref(dom.getAttribute('href') ?? '');
          return href === null ? false : { href, title: dom.getAttribute('title') };
        },
      },
    ],
    // Any client can write any href into the shared document, so what is rendered is checked here.
    toDOM(mark) {
      const href = safeHref(String(mark.attrs['href'] ?? ''));
      const title = mark.attrs['title'] === null ? {} : { title: String(mark.attrs['title']) };
      return ['a', { ...(href === null ? {} : { href }), ...title, rel: 'noopener noreferrer nofollow', target: '_blank' }, 0];
    },
  }),
});

/** The schemes a link may have; a relative link takes the page's (http or https). */
const LINK_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'mailto:']);
/** Any base will do: it only gives relative hrefs a scheme, and an absolute href ignores it. */
const RELATIVE_BASE = 'https://relative.invalid/';

/**
 * Returns `href` if it is safe to put in a link (http, https, mailto, or relative), else `null`.
 * Scripts (`javascript:`, `data:`, ...) never become a link target.
 *
 * The scheme is decided by the URL parser, the one the browser uses when the link is followed,
 * so what it ignores cannot hide a scheme: tabs and newlines anywhere (`java\tscript:`), control
 * characters and spaces at either end. The result is `href` without those characters.
 */
export function safeHref(href: string): string | null {
  // What the URL parser removes before it reads anything (WHATWG URL, "basic URL parser").
  const cleaned = href.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  if (cleaned === '') return null;
  let url: URL;
  try {
    url = new URL(cleaned, RELATIVE_BASE);
  } catch {
    return null; // not a URL a browser could follow
  }
  return LINK_SCHEMES.has(url.protocol) ? cleaned : null;
}

/** The name of the XmlFragment, in the document's Y.Doc, that holds the editor's content. */
export const FRAGMENT_NAME = 'prosemirror';
