/**
 * The conversions of a document's content (`server/documents/`), loaded on first use: they bring
 * a server-side DOM, a Markdown parser and y-prosemirror, which would add about half a second to
 * every start of a server that may never convert anything.
 */
import type { exportDocument, parseDocument } from '../documents/formats.js';
import type { replaceContent } from '../documents/replace.js';
import type { restoreVersion } from '../documents/restore.js';

/** The conversion functions the documents API uses. */
export interface Conversions {
  readonly exportDocument: typeof exportDocument;
  readonly parseDocument: typeof parseDocument;
  readonly replaceContent: typeof replaceContent;
  readonly restoreVersion: typeof restoreVersion;
}

let loading: Promise<Conversions> | null = null;

/** The conversion functions, imported once. */
export function conversions(): Promise<Conversions> {
  loading ??= Promise.all([import('../documents/formats.js'), import('../documents/replace.js'), import('../documents/restore.js')]).then(
    ([formats, replace, restore]) => ({
      exportDocument: formats.exportDocument,
      parseDocument: formats.parseDocument,
      replaceContent: replace.replaceContent,
      restoreVersion: restore.restoreVersion,
    }),
  );
  return loading;
}
