/**
 * Restoring a version: the update that makes a document look as it did, as a new forward edit
 * (nothing is rewound: others' clients apply it like any change, and it can itself be undone by
 * restoring the version before it).
 *
 * What is restored, and how exactly:
 *
 * - the editor's content (`prosemirror`), by the same diff as a replace (`replaceContent`):
 *   exactly, as ProseMirror reads it. Unlike a replace, a current content the editor cannot
 *   show is no obstacle: what the version lacks goes, readable or not, and the result is checked
 *   to read as the version;
 * - every other top-level type, as a whole value: a map key by key (keys the version lacks are
 *   deleted; a key whose value differs is set again), an array, text or XML fragment as a whole
 *   when anything in it differs. Values are compared by `fingerprint`, so shared types nested in
 *   them are compared by content, and a differing one is replaced by a copy of the version's
 *   (edits made inside the current one are not merged into it). A text's attributes
 *   (`Y.Text.setAttribute`, unused by this editor) are not restored; a subdocument is restored
 *   as a reference to the same guid, not its content;
 * - a top-level type the version does not have is emptied: Yjs cannot remove one.
 *
 * A top-level type that is a map now and was a list in the version, say, cannot be restored (no
 * Yjs type changes kind): that is refused with `UnreadableContentError`, as is a version whose
 * content cannot be read whole.
 */
import type { Node } from 'prosemirror-model';
import type * as Y from 'yjs';
import { FRAGMENT_NAME } from '../../protocol/document/schema.js';
import { contentOf, emptyContent } from './content.js';
import { DocCopy, describeKind, type SharedType } from './doc-copy.js';
import { UnreadableContentError } from './errors.js';
import { verifyContent, writeContent } from './replace.js';
import { copiedDelta, copyOf, fingerprint } from './shared-values.js';

/**
 * The Yjs update that makes `current` look like `version` (a document as it was), or null when it
 * already does. Neither document is changed. Throws `UnreadableContentError` (see above).
 */
export function restoreVersion(current: Y.Doc, version: Y.Doc): Uint8Array | null {
  const was = new DocCopy(version);
  const copy = new DocCopy(current);
  let content: Node | null;
  try {
    const fragment = was.contentFragment();
    // No content at all: the fragment is emptied, rather than given the empty paragraph the editor shows.
    content = fragment.length === 0 ? null : contentOf(fragment);
  } catch (error) {
    if (error instanceof UnreadableContentError) throw new UnreadableContentError(`in the version, ${error.reason}`);
    throw error;
  }
  const fragment = copy.contentFragment();
  // Everything is read and compared before anything is written, so a refusal leaves no half-made edit.
  const changes: Array<() => void> = [];
  for (const name of new Set([...was.names(), ...copy.names()])) {
    if (name === FRAGMENT_NAME) continue;
    const old = was.shared(name);
    const kind = copy.kindOf(name);
    if (old === null) {
      if (kind !== null) changes.push(() => empty(copy.typed(name, kind)));
    } else if (kind !== null && kind !== old.kind) {
      throw new UnreadableContentError(`its "${name}" is ${describeKind(kind)}, and was ${describeKind(old.kind)} in the version`);
    } else {
      const change = restoreShared(copy.typed(name, old.kind), old);
      if (change !== null) changes.push(change);
    }
  }
  const update = copy.edit(() => {
    if (content !== null) writeContent(copy.doc, fragment, content);
    else if (fragment.length > 0) fragment.delete(0, fragment.length);
    for (const change of changes) change();
  });
  verifyContent(fragment, content ?? emptyContent());
  return update;
}

/** What makes `now` hold what `old` holds, or null when it does already. `now` and `old` are of one kind. */
function restoreShared(now: SharedType, old: SharedType): (() => void) | null {
  if (now.kind === 'map' && old.kind === 'map') {
    const sets = [...old.type.entries()].filter(([key, value]) => !now.type.has(key) || fingerprint(now.type.get(key)) !== fingerprint(value));
    const deletions = [...now.type.keys()].filter((key) => !old.type.has(key));
    if (sets.length === 0 && deletions.length === 0) return null;
    return () => {
      for (const key of deletions) now.type.delete(key);
      for (const [key, value] of sets) now.type.set(key, copyOf(value));
    };
  }
  if (fingerprint(now.type) === fingerprint(old.type)) return null;
  return () => {
    empty(now);
    if (now.kind === 'array' && old.kind === 'array')
      now.type.insert(
        0,
        old.type.toArray().map((item) => copyOf(item)),
      );
    if (now.kind === 'text' && old.kind === 'text') now.type.applyDelta(copiedDelta(old.type, (value) => copyOf(value)));
    if (now.kind === 'xml' && old.kind === 'xml')
      now.type.insert(
        0,
        old.type.toArray().map((child) => copyOf(child) as Y.XmlElement | Y.XmlText),
      );
  };
}

/** Deletes everything `shared` holds. */
function empty(shared: SharedType): void {
  if (shared.kind === 'map') {
    for (const key of [...shared.type.keys()]) shared.type.delete(key);
  } else if (shared.type.length > 0) {
    shared.type.delete(0, shared.type.length);
  }
}
