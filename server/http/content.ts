/**
 * A document's content in the format a request asks for (`?format=`, else `Accept`), and the
 * format of a body written to it (`Content-Type`). Content that is sent is read from a copy of the
 * document: conversion must never change it.
 */
import type { Context } from 'hono';
import { ContentError, UnreadableContentError } from '../documents/errors.js';
import type { ExportFormat, ImportFormat } from '../documents/formats.js';
import { HttpError } from '../errors.js';
import { conversions } from './conversions.js';
import { binaryResponse } from './document-request.js';
import * as Y from 'yjs';

/** Every format content can be read in, with its media type. */
const FORMATS: Readonly<Record<ExportFormat | 'yjs', string>> = {
  json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  yjs: 'application/octet-stream',
};

/** What `Accept` may name for each format. */
const MEDIA_TYPES: ReadonlyArray<readonly [string, ExportFormat | 'yjs']> = [
  ['application/json', 'json'],
  ['text/plain', 'text'],
  ['text/markdown', 'markdown'],
  ['text/x-markdown', 'markdown'],
  ['text/html', 'html'],
  ['application/octet-stream', 'yjs'],
];

/**
 * Content of a user's writing served from this origin: no script runs in it and nothing is
 * fetched from elsewhere but images, whatever a link or an image in it says.
 */
const CONTENT_HEADERS = {
  'content-security-policy': "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox",
  'x-content-type-options': 'nosniff',
};

/** The response holding `state` (a document as a Yjs update) in the format the request asks for. */
export async function contentResponse(c: Context, state: Uint8Array): Promise<Response> {
  const format = requestedFormat(c);
  if (format === 'yjs') return binaryResponse(c, state, { ...CONTENT_HEADERS });
  const { exportDocument } = await conversions();
  return c.body(exportDocument(docOf(state), format), 200, { ...CONTENT_HEADERS, 'content-type': FORMATS[format] });
}

/** The format a request asks for: `?format=` wins, then the first type of `Accept` that is known; JSON by default. */
export function requestedFormat(c: Context): ExportFormat | 'yjs' {
  const asked = c.req.query('format');
  if (asked !== undefined) {
    if (asked in FORMATS) return asked as ExportFormat | 'yjs';
    throw new HttpError(400, 'invalid-format', `format must be one of ${Object.keys(FORMATS).join(', ')}`);
  }
  const accept = c.req.header('accept');
  if (accept === undefined) return 'json';
  const wanted = accept
    .split(',')
    .map((part, index) => {
      const [type = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
      const q = Number(parameters.find((parameter) => parameter.startsWith('q='))?.slice(2) ?? '1');
      return { type, q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { type } of wanted) {
    if (type === '*/*' || type === 'application/*') return 'json';
    const known = MEDIA_TYPES.find(([media]) => media === type);
    if (known !== undefined) return known[1];
    if (type === 'text/*') return 'text';
  }
  throw new HttpError(406, 'not-acceptable', `content is served as ${MEDIA_TYPES.map(([media]) => media).join(', ')}; or ask with ?format=`);
}

/**
 * Runs `body`, with what conversions throw turned into `HttpError`s: 400 for content that cannot
 * become the document's, 409 for a stored document that cannot be converted without loss.
 */
export async function converting<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof ContentError) throw new HttpError(400, error.code, error.message);
    if (error instanceof UnreadableContentError) throw new HttpError(409, error.code, error.message);
    throw error;
  }
}

/** A fresh doc holding `state`: what conversions read and change, never a room's own. */
export function docOf(state: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return doc;
}

/** The format of a body written to a document, from its `Content-Type`; 415 for another. */
export function importFormat(contentType: string | undefined): ImportFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/markdown' || type === 'text/x-markdown') return 'markdown';
  if (type === 'text/html') return 'html';
  if (type === 'application/json') return 'json';
  throw new HttpError(415, 'unsupported-media-type', 'send the content as text/markdown, text/html or application/json (ProseMirror JSON)');
}
