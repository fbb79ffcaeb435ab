/**
 * How other people's carets are drawn: a thin bar in their color with their name above it.
 *
 * The name is CSS generated content (`data-name`), not a text node. y-prosemirror's default caret
 * holds text nodes, and a click at the end of a line where someone's caret sits can put the
 * browser's selection inside that non-editable widget, where the next keystrokes are dropped.
 */
import { cleanName } from './user.js';

const FALLBACK_COLOR = '#64748b';

/** A caret for `yCursorPlugin`'s `cursorBuilder`; `user` is a remote awareness field, so untrusted. */
export function buildCaret(user: unknown): HTMLElement {
  const record = typeof user === 'object' && user !== null ? (user as Record<string, unknown>) : {};
  const name = cleanName(typeof record['name'] === 'string' ? record['name'] : null) ?? 'Someone';
  const color = typeof record['color'] === 'string' && /^#[0-9a-fA-F]{6}$/.test(record['color']) ? record['color'] : FALLBACK_COLOR;
  const caret = document.createElement('span');
  caret.className = 'ProseMirror-yjs-cursor';
  caret.dataset['name'] = name;
  caret.setAttribute('aria-label', `${name}'s cursor`);
  caret.style.setProperty('--ce-caret-color', color);
  return caret;
}
