#!/usr/bin/env node
/**
 * Builds the editor into editor/dist (run by `npm run build`, or alone: `node editor/build.mjs`).
 *
 *   dist/assets/       what the server serves under /assets/, minified:
 *     page-HASH.js, page-HASH.css   the editor page (/d/<name>)
 *     home-HASH.js                  the document list (/)
 *     collab-editor-HASH.js         the single-file script (IIFE) that defines <collab-editor>
 *     collab-editor-HASH.mjs        the same API as an ES module, dependencies included
 *     collab-editor-HASH.css        the widget's stylesheet, for pages that prefer a <link>
 *     collab-editor.{js,mjs,css}    the same files under stable names, for other sites to link to
 *     *.gz                          gzip copies, served to clients that accept them
 *   dist/manifest.json  logical name -> hashed file, read by server/http/editor.ts
 *   dist/lib/index.js   the ES module for bundlers (`yjs-collab-server/editor`), dependencies external
 *   dist/types/         its type declarations
 *
 * Hashed files never change, so the server caches them for a year; HTML and stable names are
 * revalidated on every load.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');
const assets = join(dist, 'assets');
const target = ['es2022', 'chrome100', 'firefox100', 'safari15.4'];

/** `import css from './x.css'` in TypeScript: the stylesheet, bundled (its @imports resolved) and minified, as a string. */
const cssAsText = {
  name: 'css-as-text',
  setup(builder) {
    builder.onResolve({ filter: /\.css$/ }, (args) =>
      args.kind === 'import-statement' ? { path: resolve(args.resolveDir, args.path), namespace: 'css-text' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'css-text' }, async (args) => {
      const result = await build({ entryPoints: [args.path], bundle: true, minify: true, write: false, target, logLevel: 'silent' });
      return { contents: result.outputFiles[0].text, loader: 'text', watchFiles: [args.path] };
    });
  },
};

const common = { bundle: true, target, plugins: [cssAsText], logLevel: 'warning', legalComments: 'none', charset: 'utf8' };

/**
 * Builds into a staging directory, then moves each file into dist/assets with an atomic rename and
 * writes the manifest last: a server running from this directory (tests, `npm start`) never sees a
 * half-built editor. Files of the previous build stay until the next one, for pages still open.
 */
async function buildAssets() {
  const staging = join(dist, `.staging-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const builds = [
    { entryPoints: { page: join(src, 'page.ts'), home: join(src, 'home.ts') }, format: 'esm' },
    { entryPoints: { page: join(src, 'page.css'), 'collab-editor': join(src, 'styles.css') } },
    { entryPoints: { 'collab-editor': join(src, 'script.ts') }, format: 'iife' },
    { entryPoints: { 'collab-editor': join(src, 'index.ts') }, format: 'esm', outExtension: { '.js': '.mjs' } },
  ];
  const manifest = {};
  for (const options of builds) {
    const result = await build({
      ...common,
      ...options,
      outdir: staging,
      entryNames: '[name]-[hash]',
      minify: true,
      sourcemap: false,
      metafile: true,
    });
    for (const [output, meta] of Object.entries(result.metafile.outputs)) {
      if (!meta.entryPoint) continue;
      const file = basename(output);
      manifest[file.replace(/-[A-Z0-9]{8}(\.[a-z]+)$/, '$1')] = file;
    }
  }
  // Stable names for other sites: <script src="https://server/assets/collab-editor.js">.
  for (const name of ['collab-editor.js', 'collab-editor.mjs', 'collab-editor.css']) {
    await copyFile(join(staging, manifest[name]), join(staging, name));
  }
  for (const file of await readdir(staging)) {
    await writeFile(join(staging, `${file}.gz`), gzipSync(await readFile(join(staging, file)), { level: 9 }));
  }
  const previous = await readJson(join(dist, 'manifest.json'));
  for (const file of await readdir(staging)) await rename(join(staging, file), join(assets, file));
  await rm(staging, { recursive: true, force: true });
  await writeAtomically(join(dist, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // Keep this build's and the previous build's files; older ones no page can still be using.
  const keep = new Set([...Object.values(manifest), ...Object.values(previous ?? {}), 'collab-editor.js', 'collab-editor.mjs', 'collab-editor.css']);
  for (const file of await readdir(assets)) {
    if (!keep.has(file.replace(/\.gz$/, ''))) await rm(join(assets, file), { force: true });
  }
  return manifest;
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

async function readJson(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

async function writeAtomically(path, content) {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content);
  await rename(temporary, path);
}

async function buildLibrary() {
  await build({
    ...common,
    entryPoints: { index: join(src, 'index.ts') },
    outdir: join(dist, 'lib'),
    format: 'esm',
    platform: 'browser',
    packages: 'external',
    sourcemap: true,
  });
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.lib.json')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('type declarations failed to build (see above)');
}

const started = Date.now();
await mkdir(assets, { recursive: true });
// Staging directories of builds that died half-way (their process is gone).
for (const entry of await readdir(dist)) {
  const pid = Number(/^\.staging-(\d+)$/.exec(entry)?.[1]);
  if (pid && !isRunning(pid)) await rm(join(dist, entry), { recursive: true, force: true });
}
const manifest = await buildAssets();
await buildLibrary();
const sizes = await Promise.all(
  Object.values(manifest).map(async (file) => `${file} ${((await readFile(join(assets, `${file}.gz`))).length / 1024).toFixed(1)} KiB gzipped`),
);
console.log(`editor built into ${relative(process.cwd(), dist) || '.'} in ${Date.now() - started} ms\n  ${sizes.join('\n  ')}`);
