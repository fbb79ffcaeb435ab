/**
 * The two ways turning a document's content into another form can fail. Neither knows HTTP: the
 * documents API maps `ContentError` to 400 and `UnreadableContentError` to a conflict, and both
 * carry the `{ error: code, message }` body the server's other errors send.
 */

/**
 * What is wrong with a body given as a document's content:
 *
 * - `invalid-json`: the body is not JSON;
 * - `invalid-document`: it is JSON but not a document of the schema (unknown node type or
 *   attribute, content where the schema allows none, a bad attribute value);
 * - `unsupported-content`: Markdown or HTML holding something the schema has no node or mark for
 *   (a table, strikethrough, raw HTML, a script), which would otherwise be dropped;
 * - `unsafe-link`: a link whose target is not http, https, mailto or relative;
 * - `too-deep`: nesting deeper than the editor shows (`MAX_DEPTH`).
 */
export type ContentErrorCode = 'invalid-json' | 'invalid-document' | 'unsupported-content' | 'unsafe-link' | 'too-deep';

/** A body that cannot become the document's content as it is. The message says what to change. */
export class ContentError extends Error {
  override readonly name = 'ContentError';
  constructor(
    readonly code: ContentErrorCode,
    message: string,
  ) {
    super(message);
  }

  toJSON(): { error: ContentErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

/**
 * The stored document holds what this server cannot convert without loss: an element or mark the
 * schema lacks, nesting past `MAX_DEPTH`, a shared type of the wrong kind under `prosemirror`.
 * Exporting it would hide part of it; replacing its content would delete that part for everyone.
 * `reason` is `ContentCheck`'s sentence ("its ... "), or one of the same form.
 */
export class UnreadableContentError extends Error {
  override readonly name = 'UnreadableContentError';
  readonly code = 'unreadable-content';
  constructor(readonly reason: string) {
    super(`The document cannot be converted without loss: ${reason}.`);
  }

  toJSON(): { error: 'unreadable-content'; message: string } {
    return { error: this.code, message: this.message };
  }
}
