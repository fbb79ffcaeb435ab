/**
 * Document names: what a client may ask for, checked before anything is loaded or upgraded.
 *
 * A name is URL-decoded exactly once, then must be 1 to `maxLength` characters of letters, digits
 * (any script, with the marks that scripts such as Devanagari, Tamil or Arabic write their vowels
 * and accents with) and `- _ . ~ : @ /`, with `/` only between non-empty segments that are not `.`
 * or `..`, and no mark starting a segment. Names are keys in the store, never paths on disk; the
 * rules keep them readable in URLs, logs and listings, and free of control characters. The server
 * and the editor's pages check names with the same functions.
 */

const SEGMENT = String.raw`[\p{L}\p{N}\-_.~:@][\p{L}\p{M}\p{N}\-_.~:@]*`;
const NAME_PATTERN = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`, 'u');

/** A name that is not a valid document name; the message says why. */
export class DocumentNameError extends Error {
  override readonly name = 'DocumentNameError';
  readonly code = 'invalid-document-name';
}

/** Whether `name` (decoded) is a valid document name, the length limit aside. */
export function isDocumentName(name: string): boolean {
  return NAME_PATTERN.test(name) && !name.split('/').some((segment) => segment === '.' || segment === '..');
}

/** Decodes a name taken raw from a URL path, and validates it. Throws `DocumentNameError` with the reason. */
export function parseDocumentName(raw: string, maxLength: number): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw invalid('it is not valid percent-encoding');
  }
  return validateDocumentName(name, maxLength);
}

/** Validates an already decoded name, returning it. Throws `DocumentNameError` with the reason. */
export function validateDocumentName(name: string, maxLength: number): string {
  if (name.length === 0) throw invalid('it is empty');
  if (longerThan(name, maxLength)) throw invalid(`it is longer than ${maxLength} characters`);
  if (!NAME_PATTERN.test(name)) {
    throw invalid('use letters, digits and - _ . ~ : @, with / only between non-empty parts');
  }
  if (name.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw invalid('a part may not be "." or ".."');
  }
  return name;
}

/**
 * Whether `name` has more than `max` characters (code points): a letter outside the Basic
 * Multilingual Plane (CJK Extension B, say) is one character, though two UTF-16 units.
 */
function longerThan(name: string, max: number): boolean {
  if (name.length <= max) return false;
  let count = 0;
  for (const _ of name) if (++count > max) return true;
  return false;
}

function invalid(reason: string): DocumentNameError {
  return new DocumentNameError(`invalid document name: ${reason}`);
}
