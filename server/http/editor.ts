/**
 * The editor's routes: the document list (`GET /`), the editor page (`GET /d/<name>`) and the
 * built browser files (`GET /assets/<file>`), all from editor/dist as built by editor/build.mjs.
 *
 * Caching: hashed asset files (`name-HASH.ext`) never change and are cached for a year; the HTML
 * and the stable-named embed files (`collab-editor.js`, ...) are revalidated on every load (ETag).
 * Assets may be loaded from any origin (they are public), which the embed needs; whether a page of
 * another origin may then *connect* is the WebSocket endpoint's decision, not this one's.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { HttpError } from '../errors.js';
import { DocumentNameError, parseDocumentName } from '../../protocol/document-name.js';
import { editorPage, homePage, messagePage, type AssetManifest } from './editor-pages.js';

/** What the editor's pages need to know of the server. */
export interface EditorRoutesOptions {
  /**
   * The editor's build directory: holds `manifest.json` and `assets/`. Default: `editor/dist` of
   * this package, found from this file (so it works from `server/` under vitest and from `dist/`).
   */
  readonly assetsDir?: string;
  /** Heading of the pages. Default `Documents`. */
  readonly title?: string;
  /** Longest document name, as the server's `maxNameLength`. Default 256. */
  readonly maxNameLength?: number;
}

const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A `Map`: the extension comes from the request path (a plain object would answer `constructor`). */
const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  ['js', 'text/javascript; charset=utf-8'],
  ['mjs', 'text/javascript; charset=utf-8'],
  ['css', 'text/css; charset=utf-8'],
  ['map', 'application/json; charset=utf-8'],
  ['json', 'application/json; charset=utf-8'],
]);

/** Security headers for the HTML pages. `connect-src 'self'` covers the same-origin WebSocket. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    // ProseMirror and the caret plugin set inline style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; '),
};

/**
 * Routes to mount at the root: `app.route('/', editorRoutes({ maxNameLength: config.maxNameLength }))`.
 * If the editor is not built, pages answer 503 with a message saying how to build it.
 */
export function editorRoutes(options: EditorRoutesOptions): Hono {
  const title = options.title ?? 'Documents';
  const maxNameLength = options.maxNameLength ?? 256;
  const assetsDir = options.assetsDir ?? packagedAssetsDir();
  const assets = join(assetsDir, 'assets');
  const currentManifest = manifestReader(assetsDir);

  const page = (c: Context, render: (manifest: AssetManifest) => string) => {
    const current = currentManifest();
    if (current === null) {
      return c.body(messagePage(null, title, 'The editor is not built. Run `npm run build` and reload.'), 503, PAGE_HEADERS);
    }
    return c.body(render(current), 200, PAGE_HEADERS);
  };

  return new Hono()
    .get('/', (c) => page(c, (current) => homePage(current, title, maxNameLength)))
    .get('/d/*', (c) => {
      const raw = new URL(c.req.url).pathname.slice('/d/'.length);
      let name: string;
      try {
        name = parseDocumentName(raw, maxNameLength);
      } catch (error) {
        if (!(error instanceof DocumentNameError)) throw error;
        return c.body(messagePage(currentManifest(), title, `${error.message}.`), 400, PAGE_HEADERS);
      }
      return page(c, (current) => editorPage(current, title, name));
    })
    .get('/assets/:file', async (c) => {
      const file = c.req.param('file');
      const type = CONTENT_TYPES.get(file.slice(file.lastIndexOf('.') + 1));
      if (!ASSET_NAME.test(file) || type === undefined) throw new HttpError(404, 'not-found', `no asset ${file}`);
      const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
      const content = (gzip ? await readOptional(join(assets, `${file}.gz`)) : null) ?? null;
      const body = content ?? (await readOptional(join(assets, file)));
      if (body === null) throw new HttpError(404, 'not-found', `no asset ${file}`);
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}${content !== null ? '-gz' : ''}"`;
      const headers: Record<string, string> = {
        'content-type': type,
        'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'public, max-age=0, must-revalidate',
        etag,
        vary: 'Accept-Encoding',
        'x-content-type-options': 'nosniff',
        'access-control-allow-origin': '*',
        'cross-origin-resource-policy': 'cross-origin',
      };
      if (content !== null) headers['content-encoding'] = 'gzip';
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
      return c.body(new Uint8Array(body), 200, headers);
    });
}

/**
 * The answer to a browser asking for a page that is not there: an HTML page saying so, with a link
 * to the document list. Null for anything else (an API client, which keeps its JSON error): a
 * request that does not take HTML first, or one under `/api/` or `/ws/`.
 */
export function pageNotFound(options: EditorRoutesOptions): (c: Context) => Response | null {
  const title = options.title ?? 'Documents';
  const currentManifest = manifestReader(options.assetsDir ?? packagedAssetsDir());
  return (c) => {
    const accept = c.req.header('accept') ?? '';
    if (!/^\s*text\/html\b/.test(accept) || /^\/(api|ws)\//.test(c.req.path)) return null;
    return c.body(messagePage(currentManifest(), title, 'There is no page here.'), 404, PAGE_HEADERS);
  };
}

/** `editor/dist` next to the nearest `package.json` above this file. */
export function packagedAssetsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new RangeError('cannot find the package root (package.json) above server/http/editor');
    dir = parent;
  }
  return join(dir, 'editor', 'dist');
}

/**
 * Reads the manifest, and again whenever the file changes: a rebuild while the server runs (or
 * a first build after it started) replaces the hashed files the pages must point to.
 */
function manifestReader(dir: string): () => AssetManifest | null {
  const path = join(dir, 'manifest.json');
  let cached: { mtimeMs: number; manifest: AssetManifest } | null = null;
  return () => {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return null;
    if (cached?.mtimeMs !== stats.mtimeMs) cached = { mtimeMs: stats.mtimeMs, manifest: readManifest(path) };
    return cached.manifest;
  };
}

function readManifest(path: string): AssetManifest {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new RangeError(`${path} is not a JSON object`);
  const entries = Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return Object.fromEntries(entries);
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
