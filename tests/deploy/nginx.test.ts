/**
 * The nginx recipe of docs/deploy.md, run: Debian's nginx with the site block read from the doc
 * (only its ports and certificate paths replaced) terminates TLS with a certificate made here, in
 * front of a real server with `--trust-proxy`; official y-websocket clients sync through it over
 * `wss://`, and the server sees each client's own address, whatever the client claims.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { describeWithCommand, hasCommand } from '../helpers/binaries.js';
import { makeCertificate, webSocketWith } from '../helpers/certificates.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { removeDir, type ServerProcess, startTestServer } from '../helpers/server-process.js';

const DEPLOY_DOC = resolve(import.meta.dirname, '../../docs/deploy.md');
/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
const NGINX = hasCommand('/usr/sbin/nginx', ['-v']) ? '/usr/sbin/nginx' : 'nginx';
const NAME = 'docs.example.com';
const cleanup = cleanupAfterEach();

/** The nginx block that follows the marker comment in docs/deploy.md. */
async function documentedSite(): Promise<string> {
  const doc = await readFile(DEPLOY_DOC, 'utf8');
  const match = /<!-- tests\/deploy\/nginx\.test\.ts reads the next nginx block[^>]*-->\s*```nginx\n([\s\S]*?)\n```/.exec(doc);
  if (match === null) throw new Error('docs/deploy.md has no nginx block after its marker comment');
  return match[1]!;
}

/** `text` with `from` replaced by `to`, which must occur exactly once: a doc that changed fails here rather than testing something else. */
function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `"${from}" in the documented nginx block`).toBe(1);
  return text.replace(from, () => to);
}

/** A port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/** Starts nginx on `config` in the foreground; resolves once its workers are started (its listening sockets are open before). */
async function startNginx(prefix: string, config: string): Promise<ChildProcess> {
  const nginx = spawn(NGINX, ['-p', prefix, '-c', config, '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((done) => nginx.once('exit', () => done()));
  cleanup.push(async () => {
    if (nginx.exitCode === null && nginx.signalCode === null) nginx.kill('SIGTERM');
    await exited;
  });
  await new Promise<void>((done, fail) => {
    nginx.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('start worker process')) done();
    });
    void exited.then(() => fail(new Error(`nginx exited before starting:\n${output}`)));
  });
  return nginx;
}

/** Resolves every name to 127.0.0.1, so clients use the documented name (SNI, Host) and reach nginx here. */
const toLoopback = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describeWithCommand(
  NGINX,
  'the documented nginx configuration',
  () => {
    it('terminates TLS and passes WebSockets on: the official client syncs over wss://, and the server sees each client address', async () => {
      if (!hasCommand('openssl', ['version'])) {
        if (process.env['CI'] === 'true') throw new Error('openssl is not installed; CI=true, so this fails instead of skipping');
        console.warn('[openssl] skipping the nginx test: openssl is not installed');
        return;
      }
      const dir = await mkdtemp(join(tmpdir(), 'collab-nginx-'));
      cleanup.push(() => removeDir(dir));
      // nginx's workers may run as another user than the test (nobody, as root): they need in here.
      await chmod(dir, 0o755);
      const certificate = await makeCertificate(dir, 'site', [NAME]);
      const server: ServerProcess = await startTestServer(cleanup, {
        args: ['--trust-proxy', '127.0.0.1', '--allowed-hosts', NAME, '--log-level', 'debug'],
      });
      const [tlsPort, plainPort] = await Promise.all([freePort(), freePort()]);

      let site = await documentedSite();
      site = replaceOnce(site, 'listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`);
      site = replaceOnce(site, 'listen [::]:443 ssl;', '');
      site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${plainPort};`);
      site = replaceOnce(site, 'listen [::]:80;', '');
      site = replaceOnce(site, `/etc/letsencrypt/live/${NAME}/fullchain.pem`, certificate.certFile);
      site = replaceOnce(site, `/etc/letsencrypt/live/${NAME}/privkey.pem`, certificate.keyFile);
      site = replaceOnce(site, 'server 127.0.0.1:1234;', `server 127.0.0.1:${server.port};`);
      await writeFile(join(dir, 'site.conf'), site);
      // What Debian's /etc/nginx/nginx.conf gives the site, with the paths in the test's directory.
      await writeFile(
        join(dir, 'nginx.conf'),
        [
          'daemon off;',
          'worker_processes 1;',
          `pid ${dir}/nginx.pid;`,
          'error_log stderr notice;',
          'events { worker_connections 256; }',
          'http {',
          '    access_log off;',
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${dir}/${kind}_temp;`),
          `    include ${dir}/site.conf;`,
          '}',
        ].join('\n'),
      );
      await startNginx(dir, join(dir, 'nginx.conf'));

      // Two clients, each from its own address on this host; the second claims another address.
      const client = (localAddress: string, headers: Record<string, string> = {}) => {
        const yclient = connectClient(`wss://${NAME}:${tlsPort}/ws`, 'through-nginx', {
          webSocket: webSocketWith({ ca: certificate.cert, localAddress, lookup: toLoopback, headers }),
        });
        cleanup.push(() => yclient.destroy());
        return yclient;
      };
      const ada = client('127.0.0.5');
      const bob = client('127.0.0.6', { 'X-Forwarded-For': '203.0.113.9' });
      // A configuration that does not pass the upgrade on leaves the clients retrying: said, not waited out.
      await within(Promise.all([ada.synced, bob.synced]), 15_000, 'the clients to sync through nginx');
      ada.doc.getText('t').insert(0, 'through nginx');
      await waitForDoc(bob.doc, () => bob.doc.getText('t').toString() === 'through nginx');
      bob.doc.getText('t').insert(0, 'and back: ');
      await waitForDoc(ada.doc, () => ada.doc.getText('t').toString() === 'and back: through nginx');

      const opened = () =>
        server.logs
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((line) => line.msg === 'connection opened')
          .map((line) => line.address)
          .sort();
      await expect.poll(opened).toEqual(['127.0.0.5', '127.0.0.6']);
      expect(server.logs.join('\n')).not.toContain('203.0.113.9');

      // Plain HTTP is only a redirect to the same path over HTTPS.
      const redirect = await new Promise<[number, string | undefined]>((done, fail) => {
        get({ host: '127.0.0.1', port: plainPort, path: '/d/notes', headers: { host: NAME } }, (response) => {
          response.resume();
          done([response.statusCode ?? 0, response.headers.location]);
        }).once('error', fail);
      });
      expect(redirect).toEqual([301, `https://${NAME}/d/notes`]);
    });
  },
  ['-v'],
);
