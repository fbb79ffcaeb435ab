/**
 * How a webhook is signed, so that its receiver can tell it comes from this server and refuse a
 * replay: `X-Collab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with the
 * `--webhook-secret` as the key. The timestamp is signed with the body, so a receiver that refuses
 * timestamps older than a few minutes refuses a captured request sent again later; one that also
 * remembers the ids it handled (`X-Collab-Event-Id`) refuses it within that window too.
 *
 * `verifySignature` is what a receiver runs; docs/operations.md (Webhooks) gives the same check standalone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature (lower case, as Node gives headers). */
export const SIGNATURE_HEADER = 'x-collab-signature';

/** How old a signature `verifySignature` accepts by default, in seconds (and how far in the future). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The signature header's value for `body` sent at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${sign(secret, body, timestamp)}`;
}

/**
 * Whether `header` is a valid signature of `body` by `secret`, made within `toleranceSeconds` of
 * `nowSeconds` (either way). Never throws: a malformed header is simply not valid. Any of several
 * `v1=` values may match (a receiver accepting two secrets while one is rotated lists both).
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  if (header === undefined) return false;
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 't' && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (name === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === null || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, body, timestamp), 'hex');
  return signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected));
}

function sign(secret: string, body: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}
