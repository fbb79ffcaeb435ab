/**
 * HTTPS and `wss://` on the server's own port (`--tls-cert`, `--tls-key`), with certificates made
 * in the test: the official client syncs over TLS; SIGHUP swaps the certificate for new handshakes
 * while open connections go on, and a reload that fails keeps the one in use; files that cannot be
 * used stop the start, before the store is opened, with a message naming the file and the problem.
 * Without TLS, SIGHUP has nothing to reload: the server says so and goes on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { describeWithCommand } from '../helpers/binaries.js';
import { makeCertificate, presentedFingerprint, type TestCertificate, webSocketWith } from '../helpers/certificates.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, type YClient, waitForDoc } from '../helpers/clients.js';
import { removeDir, type ServerProcess, startTestServer } from '../helpers/server-process.js';

const MAIN = process.env['SERVER_MAIN'] ?? resolve(import.meta.dirname, '../../dist/server/main.js');
const cleanup = cleanupAfterEach();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'collab-tls-'));
  cleanup.push(() => removeDir(dir));
  return dir;
}

/** The official client on `wss://127.0.0.1:<port>/ws/<name>`, trusting only `ca`. */
function wssClient(server: ServerProcess, name: string, ca: string): YClient {
  const client = connectClient(`wss://127.0.0.1:${server.port}/ws`, name, { webSocket: webSocketWith({ ca }) });
  cleanup.push(() => client.destroy());
  return client;
}

/** `GET https://127.0.0.1:<port><path>`, trusting only `ca`: status and body. */
function httpsGet(port: number, path: string, ca: string): Promise<[number, string]> {
  return new Promise((done, fail) => {
    get({ host: '127.0.0.1', port, path, ca }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => done([response.statusCode ?? 0, body]));
    }).once('error', fail);
  });
}

function logLines(server: ServerProcess): Array<Record<string, unknown>> {
  return server.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Runs the server with `args` until it exits (it must not start): its exit code and what it printed. */
function failedStart(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, '--port', '0', ...args],
      { env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

it('goes on without TLS on SIGHUP, saying there is nothing to reload: open connections stay and sync', async () => {
  const server = await startTestServer(cleanup);
  const [writer, reader] = [0, 1].map(() => cleanup.track(connectClient(server.wsUrl, 'hangup')));
  await Promise.all([writer!.synced, reader!.synced]);
  let disconnects = 0;
  writer!.provider.on('status', ({ status }: { status: string }) => status === 'disconnected' && disconnects++);

  server.child.kill('SIGHUP');
  await expect
    .poll(() => logLines(server).find((line) => String(line.msg).startsWith('SIGHUP: nothing to reload')))
    .toMatchObject({
      level: 30,
      msg: 'SIGHUP: nothing to reload without --tls-cert (SIGHUP reloads the TLS certificate only); the server goes on',
    });
  writer!.doc.getText('t').insert(0, 'typed after SIGHUP');
  await waitForDoc(reader!.doc, () => reader!.doc.getText('t').toString() === 'typed after SIGHUP');
  expect(disconnects).toBe(0);
  expect([server.child.exitCode, server.child.signalCode]).toEqual([null, null]);
  expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  // A stop after it drains as usual.
  expect(await server.stop('SIGTERM')).toBe(0);
});

describeWithCommand(
  'openssl',
  'TLS',
  () => {
    it('serves HTTPS and wss:// on its port: the official client syncs over TLS, and the start line says so', async () => {
      const certificate = await makeCertificate(await tempDir(), 'server');
      const server = await startTestServer(cleanup, { args: ['--tls-cert', certificate.certFile, '--tls-key', certificate.keyFile] });
      const started = logLines(server).find((line) => String(line.msg).startsWith('listening'))!;
      expect(started.url).toBe(`https://127.0.0.1:${server.port}`);
      expect(started.msg).toContain(`listening on https://127.0.0.1:${server.port} and wss://127.0.0.1:${server.port}/ws/`);
      const [status, body] = await httpsGet(server.port, '/healthz', certificate.cert);
      expect([status, JSON.parse(body).status]).toEqual([200, 'ok']);

      const writer = wssClient(server, 'over-tls', certificate.cert);
      const reader = wssClient(server, 'over-tls', certificate.cert);
      await Promise.all([writer.synced, reader.synced]);
      writer.doc.getText('t').insert(0, 'sent over wss');
      await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'sent over wss');
    });

    it('reloads the certificate on SIGHUP: open connections go on, new ones get the new certificate; a failed reload keeps it', async () => {
      const dir = await tempDir();
      const [first, second] = await Promise.all([makeCertificate(dir, 'first'), makeCertificate(dir, 'second')]);
      const served: TestCertificate = { ...first, certFile: join(dir, 'served.crt'), keyFile: join(dir, 'served.key') };
      await Promise.all([copyFile(first.certFile, served.certFile), copyFile(first.keyFile, served.keyFile)]);
      const server = await startTestServer(cleanup, { args: ['--tls-cert', served.certFile, '--tls-key', served.keyFile] });
      expect(await presentedFingerprint(server.port)).toBe(first.fingerprint);

      const before = wssClient(server, 'renewed', first.cert);
      await before.synced;
      let disconnects = 0;
      before.provider.on('status', ({ status }: { status: string }) => status === 'disconnected' && disconnects++);

      // Renewed: new files in place, then SIGHUP.
      await Promise.all([copyFile(second.certFile, served.certFile), copyFile(second.keyFile, served.keyFile)]);
      server.child.kill('SIGHUP');
      await expect.poll(() => logLines(server).find((line) => String(line.msg).startsWith('SIGHUP: reloaded'))).toBeDefined();
      expect(await presentedFingerprint(server.port)).toBe(second.fingerprint);
      // Trusting only the new certificate, a new client gets in; the one opened before is still on.
      const after = wssClient(server, 'renewed', second.cert);
      await after.synced;
      before.doc.getText('t').insert(0, 'typed after the renewal');
      await waitForDoc(after.doc, () => after.doc.getText('t').toString() === 'typed after the renewal');
      expect(disconnects).toBe(0);
      expect(before.provider.wsconnected).toBe(true);

      // A key that is not the certificate's, then garbage: each reload fails, and says why.
      await copyFile(first.keyFile, served.keyFile);
      server.child.kill('SIGHUP');
      await expect.poll(() => logLines(server).filter((line) => String(line.msg).startsWith('SIGHUP: kept')).length).toBe(1);
      await writeFile(served.certFile, 'not a certificate');
      server.child.kill('SIGHUP');
      await expect.poll(() => logLines(server).filter((line) => String(line.msg).startsWith('SIGHUP: kept')).length).toBe(2);
      const kept = logLines(server).filter((line) => String(line.msg).startsWith('SIGHUP: kept'));
      expect(kept[0]!.msg).toBe(
        `SIGHUP: kept the TLS certificate in use: the TLS key file ${served.keyFile} (--tls-key) does not match the certificate in ${served.certFile}: it is the key of another certificate`,
      );
      expect(kept[1]!.msg).toMatch(
        new RegExp(`^SIGHUP: kept the TLS certificate in use: the TLS certificate file ${served.certFile} \\(--tls-cert\\) holds no PEM certificate`),
      );
      expect(kept.every((line) => line.level === 50)).toBe(true);
      expect(await presentedFingerprint(server.port)).toBe(second.fingerprint);
      const [status] = await httpsGet(server.port, '/healthz', second.cert);
      expect(status).toBe(200);
      expect(disconnects).toBe(0);
    });

    it('will not start on files it cannot use, naming the file and the problem, before opening the store', async () => {
      const dir = await tempDir();
      const [good, other] = await Promise.all([makeCertificate(dir, 'good'), makeCertificate(dir, 'other')]);
      const encrypted = join(dir, 'encrypted.key');
      await new Promise<void>((done, fail) =>
        execFile('openssl', ['pkey', '-in', good.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encrypted], (error) => (error ? fail(error) : done())),
      );
      const directory = join(dir, 'a-directory');
      await mkdir(directory);
      const missing = join(dir, 'missing.crt');
      const cases: Array<[string[], string]> = [
        [['--tls-cert', missing, '--tls-key', good.keyFile], `could not start: cannot read the TLS certificate file ${missing} (--tls-cert): no such file`],
        [['--tls-cert', good.certFile, '--tls-key', directory], `could not start: cannot read the TLS key file ${directory} (--tls-key): it is a directory`],
        [
          ['--tls-cert', good.keyFile, '--tls-key', good.keyFile],
          `could not start: the TLS certificate file ${good.keyFile} (--tls-cert) holds no PEM certificate`,
        ],
        [['--tls-cert', good.certFile, '--tls-key', good.certFile], `could not start: the TLS key file ${good.certFile} (--tls-key) holds no PEM private key`],
        [
          ['--tls-cert', good.certFile, '--tls-key', other.keyFile],
          `could not start: the TLS key file ${other.keyFile} (--tls-key) does not match the certificate in ${good.certFile}: it is the key of another certificate`,
        ],
        [['--tls-cert', good.certFile, '--tls-key', encrypted], `could not start: the TLS key file ${encrypted} (--tls-key) is encrypted with a passphrase`],
      ];
      const dataDir = join(dir, 'data');
      const results = await Promise.all(cases.map(([args]) => failedStart([...args, '--data-dir', dataDir])));
      for (const [i, { code, stdout }] of results.entries()) {
        const [args, expected] = cases[i]!;
        const last = JSON.parse(stdout.trim().split('\n').pop()!) as { level: number; msg: string };
        expect(code, args.join(' ')).toBe(1);
        expect(last.level, args.join(' ')).toBe(60);
        expect(last.msg.startsWith(expected), `${last.msg}\ndoes not start with\n${expected}`).toBe(true);
      }
      // Stopped before the store: no data directory was made.
      expect(existsSync(dataDir)).toBe(false);
    });

    it('takes both files or neither, from flags or the environment', async () => {
      const certificate = await makeCertificate(await tempDir(), 'server');
      const dataDir = join(await tempDir(), 'data');
      const [certOnly, keyOnly] = await Promise.all([
        failedStart(['--tls-cert', certificate.certFile, '--data-dir', dataDir]),
        failedStart(['--data-dir', dataDir], { TLS_KEY: certificate.keyFile }),
      ]);
      expect(certOnly.code).toBe(1);
      expect(certOnly.stderr).toContain('error: --tls-cert needs --tls-key: give both (TLS_CERT, TLS_KEY), or neither');
      expect(keyOnly.code).toBe(1);
      expect(keyOnly.stderr).toContain('error: --tls-key needs --tls-cert: give both (TLS_CERT, TLS_KEY), or neither');
      const server = await startTestServer(cleanup, { env: { TLS_CERT: certificate.certFile, TLS_KEY: certificate.keyFile } });
      const [status] = await httpsGet(server.port, '/healthz', certificate.cert);
      expect(status).toBe(200);
    });
  },
  ['version'],
);
