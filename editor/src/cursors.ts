/**
 * How other people's carets and selections are drawn: a thin bar in their color with their name
 * above it, and their selection tinted with that color.
 *
 * The name is CSS generated content (`data-name`), not a text node. y-prosemirror's default caret
 * holds text nodes, and a click at the end of a line where someone's caret sits can put the
 * browser's selection inside that non-editable widget, where the next keystrokes are dropped.
 *
 * Everything here reads presence that any connection, read-only ones too, can publish. y-prosemirror
 * trusts it: it assigns to `user` as an object and reads `cursor.anchor` as a position, so one
 * state with a string `user` or an empty `cursor` threw on every redraw, every remote change was
 * left unshown, and the user's next keystroke wrote their stale copy back over it. And its default
 * selection puts `user.color` into a `style` attribute unchecked, so a "color" could cover the page.
 */
import { cleanName } from './user.js';

const FALLBACK_COLOR = '#64748b';
const COLOR = /^#[0-9a-fA-F]{6}$/;

/** The color to draw a remote user in: theirs if it is `#rrggbb`, else a neutral one. */
function colorOf(user: unknown): string {
  const color = typeof user === 'object' && user !== null ? (user as Record<string, unknown>)['color'] : undefined;
  return typeof color === 'string' && COLOR.test(color) ? color : FALLBACK_COLOR;
}

/**
 * `yCursorPlugin`'s `awarenessStateFilter`: draws only other clients' states that y-prosemirror can
 * read without throwing: `user` absent or an object, and `cursor` absent or two relative positions.
 */
export function drawablePresence(ownClientId: number, clientId: number, state: unknown): boolean {
  if (ownClientId === clientId || typeof state !== 'object' || state === null) return false;
  const { user, cursor } = state as Record<string, unknown>;
  if (user != null && (typeof user !== 'object' || Array.isArray(user))) return false;
  if (cursor == null) return true;
  if (typeof cursor !== 'object') return false;
  const { anchor, head } = cursor as Record<string, unknown>;
  return isRelativePosition(anchor) && isRelativePosition(head);
}

/** The JSON of a Yjs relative position (`Y.relativePositionToJSON`), as `createRelativePositionFromJSON` reads it. */
function isRelativePosition(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { type, tname, item, assoc } = value as Record<string, unknown>;
  return isId(type) && isId(item) && (tname == null || typeof tname === 'string') && (assoc == null || Number.isSafeInteger(assoc));
}

function isId(value: unknown): boolean {
  if (value == null) return true;
  if (typeof value !== 'object') return false;
  const { client, clock } = value as Record<string, unknown>;
  return Number.isSafeInteger(client) && (client as number) >= 0 && Number.isSafeInteger(clock) && (clock as number) >= 0;
}

/** `yCursorPlugin`'s `selectionBuilder`: the remote selection tinted with the user's checked color. */
export function buildSelection(user: unknown): { style: string } {
  return { style: `background-color: ${colorOf(user)}70` };
}

/** A caret for `yCursorPlugin`'s `cursorBuilder`; `user` is a remote awareness field, so untrusted. */
export function buildCaret(user: unknown): HTMLElement {
  const record = typeof user === 'object' && user !== null ? (user as Record<string, unknown>) : {};
  const name = cleanName(typeof record['name'] === 'string' ? record['name'] : null) ?? 'Someone';
  const color = colorOf(user);
  const caret = document.createElement('span');
  caret.className = 'ProseMirror-yjs-cursor';
  caret.dataset['name'] = name;
  caret.setAttribute('aria-label', `${name}'s cursor`);
  caret.style.setProperty('--ce-caret-color', color);
  return caret;
}
