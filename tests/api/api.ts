/**
 * The documents API as a client of it sees it: requests to a real server, with JSON errors read
 * back, and updates written the way any Yjs client writes them.
 */
import * as Y from 'yjs';

/** A response read whole: status, headers, and the body as bytes, text and (when it is) JSON. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/** `/api/documents/<name>` with the name as one path segment. */
export function documentUrl(httpUrl: string, name: string, rest = ''): string {
  return `${httpUrl}/api/documents/${encodeURIComponent(name)}${rest}`;
}

/** Sends a request and reads the whole response. */
export async function call(url: string, init: RequestInit & { token?: string } = {}): Promise<ApiResponse> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`);
  const response = await fetch(url, { ...init, headers });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the body is in `text` and `bytes`
  }
  return { status: response.status, headers: response.headers, bytes, text, json };
}

/** POSTs a binary Yjs update to the document. */
export function postUpdate(httpUrl: string, name: string, update: Uint8Array, token?: string): Promise<ApiResponse> {
  return call(documentUrl(httpUrl, name, '/updates'), {
    method: 'POST',
    body: Buffer.from(update),
    headers: { 'content-type': 'application/octet-stream' },
    ...(token === undefined ? {} : { token }),
  });
}

/** PUTs Markdown as the document's content. */
export function putMarkdown(httpUrl: string, name: string, markdown: string, token?: string): Promise<ApiResponse> {
  return call(documentUrl(httpUrl, name), {
    method: 'PUT',
    body: markdown,
    headers: { 'content-type': 'text/markdown' },
    ...(token === undefined ? {} : { token }),
  });
}

/** Reads the document's content as Markdown (throws unless 200). */
export async function markdownOf(httpUrl: string, name: string, token?: string): Promise<string> {
  const response = await call(documentUrl(httpUrl, name, '?format=markdown'), token === undefined ? {} : { token });
  if (response.status !== 200) throw new Error(`GET markdown of ${name}: ${response.status} ${response.text}`);
  return response.text;
}

/** The document as stored, read with `?format=yjs` into a fresh doc. */
export async function storedDoc(httpUrl: string, name: string): Promise<Y.Doc> {
  const response = await call(documentUrl(httpUrl, name, '?format=yjs'));
  if (response.status !== 200) throw new Error(`GET yjs of ${name}: ${response.status} ${response.text}`);
  const doc = new Y.Doc();
  Y.applyUpdate(doc, response.bytes);
  return doc;
}

/** A writer of its own: each call inserts `text` at the end of text `t`, and returns that update. */
export function textWriter(name = 't'): { doc: Y.Doc; type(text: string): Uint8Array } {
  const doc = new Y.Doc();
  return {
    doc,
    type(text) {
      const before = Y.encodeStateVector(doc);
      doc.getText(name).insert(doc.getText(name).length, text);
      return Y.encodeStateAsUpdate(doc, before);
    },
  };
}
