/**
 * Version history over the API: versions taken by hand and after edits, with their authors; read
 * back in every format; kept through compaction and restarts; thinned by `--keep-versions` with the
 * others still readable; restored as a forward edit that live editors follow and that can itself
 * be undone.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc, waitForDocs, type YClient } from '../helpers/clients.js';
import { startTestServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { call, documentUrl, markdownOf, putMarkdown } from './api.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

interface Version {
  id: string;
  time: string;
  kind: string;
  label: string | null;
  authors: string[];
  size: number;
}

async function versionsOf(server: ServerProcess, name: string, jwt?: string): Promise<Version[]> {
  const response = await call(documentUrl(server.httpUrl, name, '/versions'), jwt === undefined ? {} : { token: jwt });
  expect(response.status).toBe(200);
  return response.json.versions as Version[];
}

async function takeVersion(server: ServerProcess, name: string, label: string, jwt?: string): Promise<Version> {
  const response = await call(documentUrl(server.httpUrl, name, '/versions'), {
    method: 'POST',
    body: JSON.stringify({ label }),
    headers: { 'content-type': 'application/json' },
    ...(jwt === undefined ? {} : { token: jwt }),
  });
  expect(response.status, response.text).toBe(201);
  return response.json as unknown as Version;
}

async function versionMarkdown(server: ServerProcess, name: string, id: string, jwt?: string): Promise<string> {
  const response = await call(documentUrl(server.httpUrl, name, `/versions/${id}?format=markdown`), jwt === undefined ? {} : { token: jwt });
  expect(response.status, response.text).toBe(200);
  return response.text;
}

/** Polls `read` until `done` holds of its result (a server-side timer is not an event a client can await). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The editor's paragraphs, as text. */
function paragraphs(doc: Y.Doc): string[] {
  return doc
    .getXmlFragment('prosemirror')
    .toArray()
    .map((node) =>
      node instanceof Y.XmlElement
        ? node
            .toArray()
            .map((child) => (child instanceof Y.XmlText ? child.toString() : ''))
            .join('')
        : '',
    );
}

function appendParagraph(doc: Y.Doc, text: string): void {
  const fragment = doc.getXmlFragment('prosemirror');
  const paragraph = new Y.XmlElement('paragraph');
  paragraph.insert(0, [new Y.XmlText(text)]);
  fragment.insert(fragment.length, [paragraph]);
}

describe('version history', () => {
  it('takes named versions with their authors, lists them newest first, and serves each in every format', async () => {
    const server = await startTestServer(cleanup, { args: [...authArgs, '--version-quiet', '0'] });
    const ada = await token('doc', 'rw', { sub: 'ada' });
    expect((await putMarkdown(server.httpUrl, 'doc', '# Plan\n\nFirst draft.', ada)).status).toBe(201);
    const first = await takeVersion(server, 'doc', 'first draft', ada);
    expect(first).toMatchObject({ kind: 'named', label: 'first draft', authors: ['ada'] });
    expect(Date.parse(first.time)).toBeGreaterThan(Date.now() - 60_000);
    const grace = await token('doc', 'rw', { sub: 'grace' });
    expect((await putMarkdown(server.httpUrl, 'doc', '# Plan\n\nSecond draft, **bold**.', grace)).status).toBe(200);
    const second = await takeVersion(server, 'doc', 'second', grace);
    expect(second.authors).toEqual(['grace']);
    expect((await versionsOf(server, 'doc', ada)).map((version) => version.label)).toEqual(['second', 'first draft']);

    const reader = await token('doc', 'ro');
    expect(await versionMarkdown(server, 'doc', first.id, reader)).toBe('# Plan\n\nFirst draft.');
    const html = await call(documentUrl(server.httpUrl, 'doc', `/versions/${second.id}`), { token: reader, headers: { accept: 'text/html' } });
    expect(html.text).toContain('<strong>bold</strong>');
    const json = await call(documentUrl(server.httpUrl, 'doc', `/versions/${first.id}?format=json`), { token: reader });
    expect(json.json.prosemirror).toMatchObject({ type: 'doc' });
    const yjs = await call(documentUrl(server.httpUrl, 'doc', `/versions/${first.id}?format=yjs`), { token: reader });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, yjs.bytes);
    expect(paragraphs(doc)).toEqual(['Plan', 'First draft.']);

    expect((await call(documentUrl(server.httpUrl, 'doc', '/versions/zzzzzz'), { token: reader })).status).toBe(404);
    const badLabel = await call(documentUrl(server.httpUrl, 'doc', '/versions'), { method: 'POST', body: '{"label":""}', token: ada });
    expect(badLabel.json.error).toBe('invalid-label');
    expect((await call(documentUrl(server.httpUrl, 'doc', '/versions'), { method: 'POST', body: '{"label":"x"}', token: reader })).status).toBe(403);
  });

  it('takes a version once edits pause, naming who wrote, and keeps history through compaction and a restart', async () => {
    const server = await startTestServer(cleanup, { args: ['--version-quiet', '300', '--compact-after', '5'] });
    const editor = track(connectClient(server.wsUrl, 'notes'));
    await editor.synced;
    editor.provider.awareness.setLocalStateField('user', { name: 'Ada Lovelace' });
    for (let i = 0; i < 12; i++) appendParagraph(editor.doc, `early ${i}`);
    const [early] = await eventually(
      () => versionsOf(server, 'notes'),
      (versions) => versions.length === 1,
      'a version after the edits paused',
    );
    expect(early).toMatchObject({ kind: 'auto', authors: ['Ada Lovelace'] });
    for (let i = 0; i < 12; i++) appendParagraph(editor.doc, `late ${i}`);
    await eventually(
      () => versionsOf(server, 'notes'),
      (versions) => versions.length === 2,
      'a second version',
    );
    editor.destroy();
    expect(await server.stop()).toBe(0);
    const restarted = await startTestServer(cleanup, { dataDir: server.dataDir });
    const versions = await versionsOf(restarted, 'notes');
    expect(versions).toHaveLength(2);
    const earlyText = await versionMarkdown(restarted, 'notes', early!.id);
    expect(earlyText.split('\n\n')).toEqual(Array.from({ length: 12 }, (_, i) => `early ${i}`));
    expect((await markdownOf(restarted.httpUrl, 'notes')).split('\n\n')).toHaveLength(24);
  });

  it('keeps the newest automatic versions as --keep-versions says, and every kept one reads as it was', async () => {
    const server = await startTestServer(cleanup, { args: ['--version-quiet', '100', '--keep-versions', '3'] });
    const contents = new Map<string, string>();
    let text = '';
    let newest = '';
    for (let i = 0; i < 8; i++) {
      text += `${text === '' ? '' : '\n\n'}paragraph ${i}`;
      expect((await putMarkdown(server.httpUrl, 'doc', text)).status).toBeLessThan(300);
      // The second edit gets a name at once (so no automatic version); the others one each once quiet.
      const taken =
        i === 1
          ? await takeVersion(server, 'doc', 'kept by name')
          : (
              await eventually(
                () => versionsOf(server, 'doc'),
                (versions) => (versions[0]?.id ?? '') > newest,
                `version ${i}`,
              )
            )[0]!;
      newest = taken.id;
      contents.set(taken.id, text);
    }
    const versions = await versionsOf(server, 'doc');
    expect(versions.filter((version) => version.kind === 'named').map((version) => version.label)).toEqual(['kept by name']);
    expect(versions.filter((version) => version.kind !== 'named')).toHaveLength(3);
    for (const version of versions) expect(await versionMarkdown(server, 'doc', version.id)).toBe(contents.get(version.id));
  });

  it('restores a version while two editors type: everyone converges, and restoring the version before undoes it', async () => {
    const server = await startTestServer(cleanup, { args: [...authArgs, '--version-quiet', '0'] });
    const admin = await token('doc', 'rw', { admin: true, sub: 'admin' });
    expect((await putMarkdown(server.httpUrl, 'doc', '# Title\n\nThe good text.', admin)).status).toBe(201);
    const good = await takeVersion(server, 'doc', 'good', admin);
    expect((await putMarkdown(server.httpUrl, 'doc', 'A bad paste replaced everything.', admin)).status).toBe(200);
    const params = { token: await token('doc', 'rw'), mode: 'rw' };
    const [one, two] = [track(connectClient(server.wsUrl, 'doc', { params })), track(connectClient(server.wsUrl, 'doc', { params }))];
    await Promise.all([one.synced, two.synced]);
    expect((await call(documentUrl(server.httpUrl, 'doc', `/versions/${good.id}/restore`), { method: 'POST', token: params.token })).status).toBe(403);

    let typing = true;
    const last = new Map<string, string>();
    // Two people typing a paragraph every few milliseconds, under the message rate limit.
    const type = async (client: YClient, who: string) => {
      for (let i = 0; typing || i < 5; i++) {
        appendParagraph(client.doc, `${who} ${i}`);
        last.set(who, `${who} ${i}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const typed = Promise.all([type(one, 'one'), type(two, 'two')]);
    const restored = await call(documentUrl(server.httpUrl, 'doc', `/versions/${good.id}/restore`), { method: 'POST', token: admin });
    typing = false;
    await typed;
    expect(restored.status, restored.text).toBe(200);
    const { before, version } = restored.json as { before: Version; version: Version };
    expect(before.kind).toBe('before-restore');
    expect(version.kind).toBe('restore');

    const converged = () => JSON.stringify(paragraphs(one.doc)) === JSON.stringify(paragraphs(two.doc));
    await waitForDocs([one.doc, two.doc], converged, 'editors converged');
    const reader = track(connectClient(server.wsUrl, 'doc', { params: { token: params.token } }));
    await reader.synced;
    await waitForDoc(reader.doc, () => JSON.stringify(paragraphs(reader.doc)) === JSON.stringify(paragraphs(one.doc)), 'server converged');
    // The version's content is back, in its order; what was typed meanwhile is merged, as any concurrent edit.
    const after = paragraphs(one.doc);
    expect(after.filter((text) => !/^(one|two) \d+$/.test(text))).toEqual(['Title', 'The good text.']);
    expect(after).toEqual(expect.arrayContaining([last.get('one'), last.get('two')]));

    // Undo: the version taken just before the restore brings back what it replaced.
    const beforeText = await call(documentUrl(server.httpUrl, 'doc', `/versions/${before.id}?format=markdown`), { token: admin });
    const undo = await call(documentUrl(server.httpUrl, 'doc', `/versions/${before.id}/restore`), { method: 'POST', token: admin });
    expect(undo.status).toBe(200);
    expect(await markdownOf(server.httpUrl, 'doc', admin)).toBe(beforeText.text);
    expect(beforeText.text).toContain('A bad paste replaced everything.');
    await waitForDoc(one.doc, () => paragraphs(one.doc).includes('A bad paste replaced everything.'), 'undo reached the editor');
  });
});
