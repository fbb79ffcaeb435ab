/**
 * `npm start` builds only when a source changed since the last build (scripts/build-if-changed.mjs),
 * tried on a project of its own: a build script that counts its runs, and sources to change.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from './helpers/cleanup.js';
import { removeDir, tempDataDir } from './helpers/server-process.js';

const cleanup = cleanupAfterEach();
const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../scripts/build-if-changed.mjs');

/** A build that writes the outputs the script checks, and counts its runs. */
const BUILD = `
const fs = require('node:fs');
fs.mkdirSync('dist/server', { recursive: true });
fs.mkdirSync('editor/dist', { recursive: true });
fs.writeFileSync('dist/server/main.js', '');
fs.writeFileSync('editor/dist/manifest.json', '{}');
fs.appendFileSync('builds', 'x');
`;

it('builds when a source changed by content, and not otherwise', async () => {
  const project = await tempDataDir();
  cleanup.push(() => removeDir(project));
  await mkdir(join(project, 'scripts'));
  await mkdir(join(project, 'server'));
  await copyFile(SCRIPT, join(project, 'scripts/build-if-changed.mjs'));
  await writeFile(join(project, 'build.cjs'), BUILD);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'p', private: true, scripts: { build: 'node build.cjs' } }));
  await writeFile(join(project, 'server/main.ts'), 'one');
  const start = async () => (await run(process.execPath, ['scripts/build-if-changed.mjs'], { cwd: project })).stderr;
  const builds = async () => (await readFile(join(project, 'builds'), 'utf8')).length;

  await start();
  expect(await builds()).toBe(1);
  expect(await start()).toContain('build is up to date');
  // Written again with the same content (a checkout, an editor's save): still up to date.
  await writeFile(join(project, 'server/main.ts'), 'one');
  expect(await start()).toContain('build is up to date');
  await writeFile(join(project, 'server/main.ts'), 'two');
  await start();
  expect(await builds()).toBe(2);
  // An output gone: built again.
  await removeDir(join(project, 'dist/server'));
  await start();
  expect(await builds()).toBe(3);
  expect(await start()).toContain('build is up to date');
});
