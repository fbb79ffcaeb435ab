/**
 * Self-signed certificates made in the test with `openssl` (no network), and what a TLS client
 * needs to use them: the official y-websocket client over `wss://` trusting them, and the
 * certificate a server presents.
 */
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { ClientRequestArgs } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import WebSocket from 'ws';

const run = promisify(execFile);

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM, for a client's `ca`. */
  readonly cert: string;
  /** SHA-256 fingerprint, as `getPeerCertificate().fingerprint256` gives it. */
  readonly fingerprint: string;
}

/**
 * A self-signed P-256 certificate for `localhost`, 127.0.0.1 and `names`, valid for two days,
 * written to `<dir>/<label>.crt` and `<dir>/<label>.key`.
 */
export async function makeCertificate(dir: string, label: string, names: readonly string[] = []): Promise<TestCertificate> {
  const certFile = join(dir, `${label}.crt`);
  const keyFile = join(dir, `${label}.key`);
  const altNames = ['DNS:localhost', 'IP:127.0.0.1', ...names.map((name) => `DNS:${name}`)].join(',');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${label}`,
    '-addext',
    `subjectAltName=${altNames}`,
  ]);
  const cert = await readFile(certFile, 'utf8');
  return { certFile, keyFile, cert, fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** The fingerprint of the certificate a TLS server on 127.0.0.1:`port` presents to a new handshake. */
export function presentedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/**
 * A WebSocket class for the official provider's `WebSocketPolyfill` that opens every connection
 * with `options` (a `ca` to trust, a local address to connect from, how to resolve names,
 * headers): the provider itself passes only the URL. (ws hands them all to `https.request`.)
 */
export function webSocketWith(options: WebSocket.ClientOptions & Pick<ClientRequestArgs, 'lookup'>): typeof globalThis.WebSocket {
  class ConfiguredWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, options);
    }
  }
  return ConfiguredWebSocket as unknown as typeof globalThis.WebSocket;
}
