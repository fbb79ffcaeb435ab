/**
 * HTTPS and `wss://` on the server's own port (`--tls-cert`, `--tls-key`): the certificate and its
 * key, read from PEM files and checked to belong together before the server starts, and read again
 * on SIGHUP, as certificates renew. A reload changes only what new handshakes present: open
 * connections keep theirs. A reload that fails keeps the certificate in use. Without TLS, SIGHUP
 * only says so (`ignoreHangup`).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Logger } from './logger.js';

/** Where the certificate and key are read from. */
export interface TlsFiles {
  /** PEM: the server's certificate, then the intermediates of its chain. */
  readonly certFile: string;
  /** PEM: the certificate's private key, unencrypted. */
  readonly keyFile: string;
}

/** A certificate and its key as read and checked by `readCertificate`. */
export interface Certificate {
  /** The certificate file's PEM, chain included. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The names it is for: its subject alternative names, or its subject. */
  readonly names: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** SHA-256 fingerprint, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint: string;
}

/** A certificate or key file that cannot be used; the message names the file and says all there is to say of why. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

/**
 * Reads and checks the files: both readable, a PEM certificate, an unencrypted private key that is
 * the certificate's, and a pair Node's TLS takes. Throws `CertificateError` otherwise.
 */
export async function readCertificate({ certFile, keyFile }: TlsFiles): Promise<Certificate> {
  const certName = `the TLS certificate file ${certFile} (--tls-cert)`;
  const keyName = `the TLS key file ${keyFile} (--tls-key)`;
  const [cert, key] = await Promise.all([readPem(certFile, certName), readPem(keyFile, keyName)]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new CertificateError(`${certName} holds no PEM certificate (${reasonOf(error)})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    // PKCS#8 says so in its PEM label, the older PKCS#1 form in a header.
    const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'));
    throw new CertificateError(
      encrypted
        ? `${keyName} is encrypted with a passphrase; give it unencrypted (openssl pkey -in ${keyFile} -out <new file>)`
        : `${keyName} holds no PEM private key (${reasonOf(error)})`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new CertificateError(`${keyName} does not match the certificate in ${certFile}: it is the key of another certificate`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new CertificateError(`TLS refuses the certificate ${certFile} with the key ${keyFile} (${reasonOf(error)})`);
  }
  return {
    cert,
    key,
    names: x509.subjectAltName ?? x509.subject.replace(/\n/g, ', '),
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
    fingerprint: x509.fingerprint256,
  };
}

/** What the log says of a certificate, and a warning when it is not valid now (clients will refuse it). */
export function logCertificate(logger: Logger, certificate: Certificate, message: string): void {
  const { names, validFrom, validTo, fingerprint } = certificate;
  const fields = { tls: { names, validFrom: validFrom.toISOString(), validTo: validTo.toISOString(), fingerprint } };
  const now = Date.now();
  const summary = `${message}: ${names}, valid until ${validTo.toISOString()}`;
  if (now > validTo.getTime() || now < validFrom.getTime()) {
    logger.warn(fields, `${summary}; it is not valid now (from ${validFrom.toISOString()}), clients will refuse it`);
  } else {
    logger.info(fields, summary);
  }
}

/**
 * Makes SIGHUP harmless without TLS: Node's default for it ends the process, dropping every
 * connection, and `systemctl reload`, a closing terminal or a log rotation script sends it. The
 * certificate is all SIGHUP reloads, so it logs that there is nothing to reload.
 */
export function ignoreHangup(logger: Logger): void {
  process.on('SIGHUP', () => logger.info('SIGHUP: nothing to reload without --tls-cert (SIGHUP reloads the TLS certificate only); the server goes on'));
}

/**
 * Reads the files again on each SIGHUP and hands the new certificate to `apply`; one reload at a
 * time, in the order the signals came. A failed one is logged and changes nothing.
 */
export function reloadOnHangup(files: TlsFiles, apply: (certificate: Certificate) => void, logger: Logger): void {
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(() =>
      readCertificate(files).then(
        (certificate) => {
          apply(certificate);
          logCertificate(logger, certificate, 'SIGHUP: reloaded the TLS certificate');
        },
        (error: unknown) => logger.error({ err: error }, `SIGHUP: kept the TLS certificate in use: ${reasonOf(error)}`),
      ),
    );
  });
}

async function readPem(file: string, name: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const reason = READ_ERRORS[code] ?? reasonOf(error);
    throw new CertificateError(`cannot read ${name}: ${reason}`);
  }
}

/** Why a file could not be read, in words, for the errors an operator meets. */
const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied (the server runs as a user that may not read it)',
  EISDIR: 'it is a directory',
};

/** An error's message, without the OpenSSL error codes that some carry (`error:1E08010C:DECODER routines::unsupported`). */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-F]+:/, '');
}
