/**
 * `collab-server backup` and `restore`, end to end: a backup of a real server taken while
 * official y-websocket clients type, restored into a new data directory (and a PostgreSQL
 * database), served by a new server, and compared document by document; and the archives,
 * directories, databases and tokens that are refused.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ArchiveWriter, type DocumentEntry, readArchive } from '../../server/backup/archive.js';
import { postgresTarget } from '../../server/backup/restore-target.js';
import { call, documentUrl, postUpdate, textWriter } from '../api/api.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { collabCommand } from '../helpers/command.js';
import { connectClient, waitForDoc, type YClient } from '../helpers/clients.js';
import { postgresUrl } from '../helpers/instances.js';
import { databaseOfSuite, describeWithPostgres } from '../helpers/postgres.js';
import { removeDir, type ServerProcess, startTestServer, tempDataDir } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';

const cleanup = cleanupAfterEach();

async function scratch(): Promise<string> {
  const dir = await tempDataDir();
  cleanup.push(() => removeDir(dir));
  return dir;
}

function track(client: YClient): YClient {
  cleanup.push(() => client.destroy());
  return client;
}

/** The documents of an archive, by name. */
async function archived(file: string): Promise<Map<string, DocumentEntry>> {
  const documents = new Map<string, DocumentEntry>();
  for await (const record of readArchive(createReadStream(file))) if (record.type === 'document') documents.set(record.entry.name, record.entry);
  return documents;
}

async function storedText(server: ServerProcess, name: string, jwt: string): Promise<{ text: string; stateVector: Uint8Array }> {
  const response = await call(documentUrl(server.httpUrl, name, '?format=yjs'), { token: jwt });
  expect(response.status, `${name}: ${response.text}`).toBe(200);
  const doc = new Y.Doc();
  Y.applyUpdate(doc, response.bytes);
  return { text: doc.getText('t').toString(), stateVector: Y.encodeStateVector(doc) };
}

/** A server with auth and a few documents, one with a named version. */
async function populated(): Promise<{ server: ServerProcess; admin: string }> {
  const server = await startTestServer(cleanup, { args: authArgs });
  const admin = await token('*', 'rw', { admin: true });
  for (let i = 0; i < 20; i++) expect((await postUpdate(server.httpUrl, `quiet/${i}`, textWriter().type(`document ${i}`), admin)).status).toBe(200);
  return { server, admin };
}

/** Takes a named version of `name`; resolves with the API's answer (its `json.id`). */
async function nameVersion(server: ServerProcess, name: string, label: string, admin: string): Promise<Awaited<ReturnType<typeof call>>> {
  const version = await call(documentUrl(server.httpUrl, name, '/versions'), {
    method: 'POST',
    body: JSON.stringify({ label }),
    headers: { 'content-type': 'application/json' },
    token: admin,
  });
  expect(version.status, version.text).toBe(201);
  return version;
}

describe('backup and restore', () => {
  it('backs up a server while clients type, and a server on the restored directory serves the state each document was backed up in', async () => {
    const { server, admin } = await populated();
    const version = await nameVersion(server, 'quiet/3', 'kept', admin);

    // Typists, each with a witness: what a witness has seen is stored (acknowledged to its typist).
    const typed = ['busy/a', 'busy/b', 'busy/c', 'busy/d'];
    const typists = typed.map((name) => track(connectClient(server.wsUrl, name, { params: { token: admin } })));
    const witnesses = typed.map((name) => track(connectClient(server.wsUrl, name, { params: { token: admin } })));
    await Promise.all([...typists, ...witnesses].map((client) => client.synced));
    let typing = true;
    const loops = typists.map(async (typist, i) => {
      for (let n = 0; typing; n++) {
        typist.doc.getText('t').insert(typist.doc.getText('t').length, String.fromCharCode(97 + ((n + i) % 26)));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
    await Promise.all(witnesses.map((witness) => waitForDoc(witness.doc, () => witness.doc.getText('t').length > 200, 'typing under way')));

    const seenBefore = witnesses.map((witness) => witness.doc.getText('t').toString());
    const dir = await scratch();
    const file = join(dir, 'server.backup');
    const backedUp = await collabCommand(['backup', file, '--url', server.httpUrl, '--token', admin]);
    expect(backedUp, backedUp.stderr).toMatchObject({ code: 0 });
    expect(backedUp.stderr).toMatch(/backed up 24 document\(s\) and 1 version\(s\)/);
    typing = false;
    await Promise.all(loops);

    const documents = await archived(file);
    expect([...documents.keys()].sort()).toEqual([...typed, ...Array.from({ length: 20 }, (_, i) => `quiet/${i}`)].sort());
    for (const [i, name] of typed.entries()) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, documents.get(name)!.state);
      const text = doc.getText('t').toString();
      // Everything seen before the backup began is in it, and it is a moment of the typing: what
      // the witness sees goes on from it.
      expect(text.startsWith(seenBefore[i]!), name).toBe(true);
      const witness = witnesses[i]!.doc;
      await waitForDoc(witness, () => witness.getText('t').toString().startsWith(text), `${name}: the backed up text as a prefix of the witness's`);
    }

    const restoredDir = join(dir, 'restored');
    const restored = await collabCommand(['restore', file, '--data-dir', restoredDir]);
    expect(restored, restored.stderr).toMatchObject({ code: 0 });
    expect(restored.stderr).toContain('restored 24 document(s) and 1 version(s)');
    const second = await startTestServer(cleanup, { dataDir: restoredDir, args: authArgs });
    for (const [name, entry] of documents) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, entry.state);
      const served = await storedText(second, name, admin);
      expect(served.text, name).toBe(doc.getText('t').toString());
      expect(served.stateVector, name).toEqual(Y.encodeStateVector(doc));
    }
    const versions = await call(documentUrl(second.httpUrl, 'quiet/3', '/versions'), { token: admin });
    expect((versions.json.versions as Array<{ label: string }>).map((entry) => entry.label)).toEqual(['kept']);
    const versionContent = await call(documentUrl(second.httpUrl, 'quiet/3', `/versions/${version.json.id}?format=yjs`), { token: admin });
    expect(versionContent.status, versionContent.text).toBe(200);
  });

  it('refuses a corrupt or truncated archive and a non-empty directory, changing nothing', async () => {
    const { server, admin } = await populated();
    const dir = await scratch();
    const file = join(dir, 'good.backup');
    expect(await collabCommand(['backup', file, '--url', server.httpUrl, '--token', admin])).toMatchObject({ code: 0 });
    const bytes = await readFile(file);

    const corrupt = Buffer.from(bytes);
    corrupt[Math.floor(bytes.length / 2)]! ^= 0x40;
    await writeFile(join(dir, 'corrupt.backup'), corrupt);
    const refused = await collabCommand(['restore', join(dir, 'corrupt.backup'), '--data-dir', join(dir, 'from-corrupt')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot be restored, nothing was written: .*corrupt/);
    await expect(stat(join(dir, 'from-corrupt'))).rejects.toThrow('ENOENT');

    await writeFile(join(dir, 'cut.backup'), bytes.subarray(0, bytes.length - 10));
    const cut = await collabCommand(['restore', join(dir, 'cut.backup'), '--data-dir', join(dir, 'from-cut')]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain('truncated');
    await expect(stat(join(dir, 'from-cut'))).rejects.toThrow('ENOENT');

    const occupied = join(dir, 'occupied');
    await collabCommand(['restore', file, '--data-dir', occupied]);
    const before = await readdir(occupied);
    const again = await collabCommand(['restore', file, '--data-dir', occupied]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('it is not empty');
    expect(await readdir(occupied)).toEqual(before);
  });

  it('refuses a backup without an admin token for every document', async () => {
    const { server } = await populated();
    const dir = await scratch();
    for (const [jwt, status] of [
      [await token('*', 'rw'), '403'],
      [await token('quiet/*', 'rw', { admin: true }), '403'],
      ['not-a-token', '401'],
    ] as const) {
      const refused = await collabCommand(['backup', join(dir, 'refused.backup'), '--url', server.httpUrl, '--token', jwt]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`the server answered ${status}`);
    }
    const anonymous = await collabCommand(['backup', join(dir, 'refused.backup'), '--url', server.httpUrl]);
    expect(anonymous.stderr).toContain('the server answered 401');
    expect(await readdir(dir)).toEqual([]);
  });
});

describeWithPostgres('restore into PostgreSQL', () => {
  const suite = databaseOfSuite();

  it('fills an empty database that a server then serves, and refuses one that holds documents', async () => {
    const { server, admin } = await populated();
    await nameVersion(server, 'quiet/5', 'before the move', admin);
    const file = join(await scratch(), 'move.backup');
    expect(await collabCommand(['backup', file, '--url', server.httpUrl, '--token', admin])).toMatchObject({ code: 0 });

    const url = postgresUrl(suite.cluster, suite.database.name);
    const restored = await collabCommand(['restore', file, '--postgres-url', url]);
    expect(restored, restored.stderr).toMatchObject({ code: 0 });
    expect(restored.stderr).toContain('restored 20 document(s) and 1 version(s)');
    const onPostgres = await startTestServer(cleanup, { args: [...authArgs, '--postgres-url', url] });
    for (let i = 0; i < 20; i++) expect((await storedText(onPostgres, `quiet/${i}`, admin)).text).toBe(`document ${i}`);
    const versions = await call(documentUrl(onPostgres.httpUrl, 'quiet/5', '/versions'), { token: admin });
    expect((versions.json.versions as Array<{ label: string }>).map((entry) => entry.label)).toEqual(['before the move']);

    // A database that holds documents is refused, and keeps what it holds.
    expect((await postUpdate(onPostgres.httpUrl, 'new-since', textWriter().type('mine'), admin)).status).toBe(200);
    const again = await collabCommand(['restore', file, '--postgres-url', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('holds documents');
    expect((await storedText(onPostgres, 'new-since', admin)).text).toBe('mine');
    expect((await collabCommand(['restore', file, '--postgres-url', url, '--data-dir', 'x'])).stderr).toContain('not both');
  });

  it('takes back what it wrote when it fails midway, leaving the database empty for another try', async () => {
    const database = await suite.cluster.createDatabase();
    cleanup.push(() => database.drop());
    const target = postgresTarget(postgresUrl(suite.cluster, database.name));
    await target.checkEmpty();
    const store = await target.open();
    await store.append('written', textWriter().type('half a restore'));
    await store.close();
    await expect(target.checkEmpty()).rejects.toThrow(/holds documents.*nothing was changed/);
    await target.discard();
    await target.checkEmpty();
  });
});

describe('what a restore checks before it writes', () => {
  it('refuses an archive whose checksums hold but whose documents a server could not have written', async () => {
    const dir = await scratch();
    const archive = async (name: string, documents: Array<{ name: string; state: Uint8Array }>) => {
      const writer = new ArchiveWriter();
      const parts = [writer.start({ server: 'test', createdAt: new Date().toISOString() })];
      for (const document of documents) parts.push(writer.document({ ...document, head: 1, capturedAt: Date.now() }));
      parts.push(writer.end());
      const file = join(dir, name);
      await writeFile(file, Buffer.concat(parts));
      return file;
    };
    const good = textWriter().type('fine');
    for (const [file, reason] of [
      [
        await archive('garbage.backup', [
          { name: 'a', state: good },
          { name: 'b', state: Uint8Array.of(5) },
        ]),
        'the state of the document "b" is not a Yjs update',
      ],
      [
        await archive('twice.backup', [
          { name: 'a', state: good },
          { name: 'a', state: good },
        ]),
        'the document "a" appears twice',
      ],
      [await archive('name.backup', [{ name: '../escape', state: good }]), 'invalid'],
    ] as const) {
      const refused = await collabCommand(['restore', file, '--data-dir', join(dir, 'target')]);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/cannot be restored, nothing was written/);
      expect(refused.stderr).toContain(reason);
      await expect(stat(join(dir, 'target'))).rejects.toThrow('ENOENT');
    }
  });
});
