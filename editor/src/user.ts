/**
 * Who is editing: a display name and a color, shown to others next to this user's caret and in
 * the presence list. Remembered in localStorage so the name survives reloads.
 */

export interface User {
  /** Display name, 1 to 60 characters after trimming. */
  readonly name: string;
  /** A CSS hex color `#rrggbb` (y-prosemirror draws selections with it plus an alpha suffix). */
  readonly color: string;
}

const STORAGE_KEY = 'collab-editor:user';
const MAX_NAME = 60;

/** Colors readable as caret labels with white text, and distinct from each other. */
export const USER_COLORS: readonly string[] = ['#2563eb', '#db2777', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#c026d3', '#dc2626', '#4f46e5', '#0d9488'];

const ANIMALS = ['Otter', 'Heron', 'Fox', 'Lynx', 'Wren', 'Badger', 'Ibex', 'Marten', 'Puffin', 'Seal', 'Crane', 'Hare'];

/**
 * The user to edit as: `preferred` fields win, then what this browser remembered, then a fresh
 * random name and color (which are remembered).
 */
export function resolveUser(preferred?: Partial<User>): User {
  const stored = readStoredUser();
  const name = cleanName(preferred?.name) ?? stored?.name ?? randomName();
  const color = cleanColor(preferred?.color) ?? stored?.color ?? randomColor();
  // A name the host app chose is its to remember; only a generated identity is stored here.
  if (stored === null && cleanName(preferred?.name) === null) storeUser({ name, color });
  return { name, color };
}

/** Remembers `user` in this browser. Storage errors (private mode, quota) are ignored: names are a convenience. */
export function storeUser(user: User): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(user));
  } catch {
    // Not remembered; the name still applies to this session.
  }
}

/** Trims `name` and checks its length; `undefined` or an unusable name gives `null`. */
export function cleanName(name: string | undefined | null): string | null {
  if (typeof name !== 'string') return null;
  const trimmed = name.replace(/\s+/g, ' ').trim();
  return trimmed.length === 0 ? null : trimmed.slice(0, MAX_NAME);
}

function cleanColor(color: string | undefined | null): string | null {
  return typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color) ? color.toLowerCase() : null;
}

function readStoredUser(): User | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (raw === null) return null;
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return null;
    const record = value as Record<string, unknown>;
    const name = cleanName(typeof record['name'] === 'string' ? record['name'] : null);
    const color = cleanColor(typeof record['color'] === 'string' ? record['color'] : null);
    return name !== null && color !== null ? { name, color } : null;
  } catch {
    return null;
  }
}

function randomName(): string {
  return `Anonymous ${ANIMALS[Math.floor(Math.random() * ANIMALS.length)]}`;
}

function randomColor(): string {
  return USER_COLORS[Math.floor(Math.random() * USER_COLORS.length)]!;
}
