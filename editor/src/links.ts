/**
 * Following links from the editor. A plain click on a link places the caret, as anywhere else in
 * the text, so links stay easy to edit; Ctrl+click (Cmd+click on macOS) opens the link in a new tab.
 */
import { DOMSerializer, type Mark } from 'prosemirror-model';
import { Plugin } from 'prosemirror-state';
import type { EditorView, MarkView } from 'prosemirror-view';
import { safeHref } from '../../protocol/document/schema.js';

/** As prosemirror-keymap decides what `Mod` is: Cmd on Apple systems, Ctrl elsewhere. */
const APPLE = typeof navigator !== 'undefined' && /Mac|iP(hone|[oa]d)/.test(navigator.platform);

/** How to open a link, as its tooltip says. */
export const OPEN_LINK_HINT = `${APPLE ? 'Cmd' : 'Ctrl'}+click to open`;

/**
 * Opens a link on Ctrl+click (Cmd+click on macOS) in a new tab, without giving it a handle on this
 * page, and says so in the link's tooltip. Only an address `safeHref` accepts is opened; a relative
 * one is relative to the page.
 */
export function linkOpener(): Plugin {
  return new Plugin({
    props: {
      // Before ProseMirror's own handling, which selects the whole paragraph on a Ctrl+click.
      handleClick(view, _pos, event) {
        if (event.button !== 0 || !(APPLE ? event.metaKey : event.ctrlKey)) return false;
        const href = clickedHref(view, event);
        if (href === null) return false;
        window.open(href, '_blank', 'noopener,noreferrer');
        return true;
      },
      // Only in the editor: the schema's rendering is also what is copied, and the hint must not
      // travel with a copied link (pasted back, it would become the link's title).
      markViews: { link: renderLink },
    },
  });
}

/** The safe address of the link at `event`'s target in the editor, or null. */
function clickedHref(view: EditorView, event: MouseEvent): string | null {
  const anchor = event.target instanceof Element ? event.target.closest('a') : null;
  if (anchor === null || !view.dom.contains(anchor)) return null;
  return safeHref(anchor.getAttribute('href') ?? '');
}

function renderLink(mark: Mark): MarkView {
  const spec = mark.type.spec.toDOM!(mark, true);
  const { dom, contentDOM } = DOMSerializer.renderSpec(document, spec);
  if (dom instanceof HTMLAnchorElement && dom.hasAttribute('href')) {
    dom.title = dom.title === '' ? OPEN_LINK_HINT : `${dom.title} (${OPEN_LINK_HINT})`;
  }
  return contentDOM === undefined ? { dom } : { dom, contentDOM };
}
