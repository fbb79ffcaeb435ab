/**
 * `collab-server export` and `collab-server import`: against a running server through the API,
 * and against a stopped server's data directory; refused, with a reason, when the data directory
 * is held by a running server or the document is not there.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { collabCommand } from '../helpers/command.js';
import { removeDir, startTestServer, tempDataDir } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { call, documentUrl, markdownOf, putMarkdown } from './api.js';

const cleanup = cleanupAfterEach();

async function scratch(): Promise<string> {
  const dir = await tempDataDir();
  cleanup.push(() => removeDir(dir));
  return dir;
}

describe('export and import commands', () => {
  it('import into a stopped data directory, which a server then serves, and export from it', async () => {
    const dir = await scratch();
    const dataDir = join(dir, 'data');
    await writeFile(join(dir, 'notes.md'), '# Notes\n\nWritten *offline*.\n');
    const imported = await collabCommand(['import', 'team/notes', join(dir, 'notes.md'), '--data-dir', dataDir]);
    expect(imported, imported.stderr).toMatchObject({ code: 0 });
    expect(imported.stderr).toContain('created "team/notes"');
    const exported = await collabCommand(['export', 'team/notes', '--data-dir', dataDir, '--format', 'html']);
    expect(exported.stdout).toBe('<h1>Notes</h1><p>Written <em>offline</em>.</p>');

    const server = await startTestServer(cleanup, { dataDir });
    expect(await markdownOf(server.httpUrl, 'team/notes')).toBe('# Notes\n\nWritten *offline*.');
    // While it runs, the data directory is its own.
    const held = await collabCommand(['export', 'team/notes', '--data-dir', dataDir]);
    expect(held.code).toBe(1);
    expect(held.stderr).toMatch(/in use by another process/);
    const missing = await collabCommand(['export', 'nothing', '--data-dir', await scratch()]);
    expect(missing.stderr).toContain('there is no document "nothing"');
  });

  it('export from and import into a running server through the API, with a token', async () => {
    const dir = await scratch();
    const server = await startTestServer(cleanup, { args: authArgs });
    const writer = await token('*', 'rw');
    expect((await putMarkdown(server.httpUrl, 'spec', 'Version **one**.', writer)).status).toBe(201);
    const exported = await collabCommand(['export', 'spec', '--url', server.httpUrl, '--output', join(dir, 'spec.json'), '--format', 'json'], {
      TOKEN: writer,
    });
    expect(exported.code, exported.stderr).toBe(0);
    await writeFile(join(dir, 'next.md'), 'Version **two**.');
    const imported = await collabCommand(['import', 'spec', join(dir, 'next.md'), '--url', server.httpUrl, '--token', writer]);
    expect(imported.stderr).toContain('replaced the content of "spec"');
    expect(await markdownOf(server.httpUrl, 'spec', writer)).toBe('Version **two**.');
    // The JSON export imports back: the first version again.
    const back = await collabCommand(['import', 'spec', join(dir, 'spec.json'), '--url', server.httpUrl, '--token', writer]);
    expect(back.code, back.stderr).toBe(0);
    expect(await markdownOf(server.httpUrl, 'spec', writer)).toBe('Version **one**.');

    const doc = new Y.Doc();
    doc.getMap('settings').set('theme', 'dark');
    await writeFile(join(dir, 'state.yjs'), Y.encodeStateAsUpdate(doc));
    expect((await collabCommand(['import', 'spec', join(dir, 'state.yjs'), '--url', server.httpUrl, '--token', writer])).code).toBe(0);
    expect((await call(documentUrl(server.httpUrl, 'spec', '?format=json'), { token: writer })).json.settings).toEqual({ theme: 'dark' });

    const refused = await collabCommand(['import', 'spec', join(dir, 'next.md'), '--url', server.httpUrl, '--token', await token('spec', 'ro')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the server answered 403');
    const unknown = await collabCommand(['import', 'spec', join(dir, 'spec.txt'), '--url', server.httpUrl]);
    expect(unknown.stderr).toContain('pass --format');
  });
});
