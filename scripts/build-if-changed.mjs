#!/usr/bin/env node
/**
 * Runs `npm run build` only when a source of the build changed since the last build it ran
 * (`npm start` and `npm run token` call it): a start with nothing changed takes a fraction of a
 * second instead of the whole build. What counts: the server's and editor's sources, the build
 * configuration and the lockfile, by content (a checkout that only touches times changes nothing).
 * The fingerprint of the last build is kept in `dist/.build-fingerprint`, written only once the
 * build succeeded (`--record` writes it: `npm run build` ends with that).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['server', 'persistence', 'protocol', 'editor/src', 'editor/build.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const OUTPUTS = ['dist/server/main.js', 'editor/dist/manifest.json'];
const FINGERPRINT = join(root, 'dist', '.build-fingerprint');

/** Every file under `path`, sorted, so the fingerprint does not depend on directory order. */
function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => files(join(path, entry)));
}

function fingerprint() {
  const hash = createHash('sha256');
  for (const source of SOURCES) {
    for (const file of files(join(root, source))) {
      hash.update(relative(root, file));
      hash.update('\0');
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

const current = fingerprint();
if (process.argv.includes('--record')) {
  // `npm run build` ends with this: what it built is up to date.
  writeFileSync(FINGERPRINT, `${current}\n`);
  process.exit(0);
}
const built = existsSync(FINGERPRINT) ? readFileSync(FINGERPRINT, 'utf8').trim() : null;
if (built === current && OUTPUTS.every((output) => existsSync(join(root, output)))) {
  process.stderr.write('build is up to date (no source changed since the last one)\n');
} else {
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(FINGERPRINT, `${current}\n`);
}
