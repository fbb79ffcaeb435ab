/**
 * Request bodies, read within a limit: a body past it is refused (413) as soon as its length says
 * so, or as soon as that many bytes have arrived, never buffered whole first.
 */
import { HttpError } from '../errors.js';

/** Reads `request`'s body, at most `limit` bytes; throws `HttpError(413)` past it. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Reads `request`'s body as UTF-8 text, at most `limit` bytes; throws `HttpError(400)` for bytes that are not UTF-8. */
export async function readText(request: Request, limit: number): Promise<string> {
  const body = await readBody(request, limit);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, 'invalid-text', 'the body is not UTF-8 text');
  }
}

/** Reads a JSON body of at most `limit` bytes; throws `HttpError(400)` for one that does not parse. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const text = await readText(request, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, 'invalid-json', `the body is not JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'body-too-large', `the body is larger than ${limit} bytes, the most this server takes`);
}
