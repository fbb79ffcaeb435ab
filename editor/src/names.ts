/**
 * Document names as the server accepts them (server/sync/document-name.ts is the authority):
 * letters and digits of any script and `- _ . ~ : @`, with `/` only between non-empty parts that
 * are not `.` or `..`. Checked in the browser to explain a bad name before the server refuses it.
 */
const NAME_PATTERN = /^[\p{L}\p{N}\-_.~:@]+(?:\/[\p{L}\p{N}\-_.~:@]+)*$/u;

/** Whether `name` is a valid document name (the server's length limit, 256 by default, is its own). */
export function isDocumentName(name: string): boolean {
  return NAME_PATTERN.test(name) && !name.split('/').some((part) => part === '.' || part === '..');
}
