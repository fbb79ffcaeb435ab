/** The editor's HTTP routes, in-process: pages, assets, cache headers, refusals. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../server/errors.js';
import { homePage } from '../../server/http/editor-pages.js';
import { editorRoutes, packagedAssetsDir } from '../../server/http/editor.js';

let dir: string;
let app: Hono;

const MANIFEST = {
  'page.js': 'page-AAAAAAAA.js',
  'home.js': 'home-BBBBBBBB.js',
  'page.css': 'page-CCCCCCCC.css',
  'collab-editor.js': 'collab-editor-DDDDDDDD.js',
};

function mount(assetsDir: string): Hono {
  const root = new Hono();
  root.onError((error, c) => (error instanceof HttpError ? c.json(error.toJSON(), error.status) : c.json({ error: 'internal' }, 500)));
  root.route('/', editorRoutes({ assetsDir }));
  return root;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'editor-routes-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(MANIFEST));
  await writeFile(join(dir, 'assets', 'page-AAAAAAAA.js'), 'console.log("page")');
  await writeFile(join(dir, 'assets', 'page-AAAAAAAA.js.gz'), gzipSync('console.log("page")'));
  await writeFile(join(dir, 'assets', 'collab-editor.js'), 'console.log("embed")');
  await writeFile(join(dir, 'secret.txt'), 'not an asset');
  app = mount(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('editor pages', () => {
  it('serves the document list with fresh HTML and a strict policy', async () => {
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await response.text();
    expect(html).toContain('src="./assets/home-BBBBBBBB.js"');
    expect(html).toContain('href="./assets/page-CCCCCCCC.css"');
  });

  it('serves the editor for a name with slashes, linking assets relative to it', async () => {
    const response = await app.request('/d/team/q3%3Aplans');
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('data-document="team/q3:plans"');
    expect(html).toContain('src="../../assets/page-AAAAAAAA.js"');
    expect(html).toContain('<title>team/q3:plans · Documents</title>');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('refuses a bad name with a page that says why', async () => {
    for (const path of ['/d/has%20space', '/d/a/%2E%2E%2Fb', '/d/%E0%A4%A', '/d/']) {
      const response = await app.request(path);
      expect(response.status, path).toBe(400);
      expect(await response.text(), path).toContain('invalid document name');
    }
  });

  it("gives the open box the server's name limit, and no maxlength to cut a name short", async () => {
    const limited = new Hono().route('/', editorRoutes({ assetsDir: dir, maxNameLength: 300 }));
    const page = await (await limited.request('/')).text();
    expect(page).toMatch(/<input id="open-name"[^>]* data-max-length="300"/);
    expect(page).not.toContain('maxlength');
    expect(() => homePage(MANIFEST, 'Documents', Number.NaN)).toThrow(RangeError);
  });

  it('finds the packaged build by default', () => {
    expect(packagedAssetsDir()).toBe(join(resolve(import.meta.dirname, '../..'), 'editor', 'dist'));
  });

  it('says how to build the editor when it is not built', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'editor-unbuilt-'));
    try {
      const response = await mount(empty).request('/d/notes');
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('npm run build');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('editor assets', () => {
  it('caches hashed files for a year and lets any origin load them', async () => {
    const response = await app.request('/assets/page-AAAAAAAA.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.text()).toBe('console.log("page")');
  });

  it('sends the gzip copy to clients that accept it', async () => {
    const response = await app.request('/assets/page-AAAAAAAA.js', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('vary')).toBe('Accept-Encoding');
  });

  it('revalidates stable names with an ETag', async () => {
    const response = await app.request('/assets/collab-editor.js');
    expect(response.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate');
    const etag = response.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await app.request('/assets/collab-editor.js', { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it('serves nothing else', async () => {
    for (const path of ['/assets/missing.js', '/assets/..%2Fmanifest.json', '/assets/..%2Fsecret.txt', '/assets/.hidden.js', '/assets/readme.txt']) {
      expect((await app.request(path)).status, path).toBe(404);
    }
  });
});
