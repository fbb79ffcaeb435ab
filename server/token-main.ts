#!/usr/bin/env node
/**
 * Mints an access token for operators: `npm run -s token -- --doc NAME --mode ro --ttl 1h`.
 * Prints the token alone on stdout, so it can be captured (`TOKEN=$(npm run -s token -- ...)`).
 * The secret comes from `--secret` or, better (a flag shows in the process list), `AUTH_SECRET`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_DOC_CLAIM_LENGTH, MAX_SUB_LENGTH, MIN_SECRET_BYTES, mintToken, parseTtl, secretKey } from './auth/token.js';
import { VERSION } from './version.js';

function ttl(value: string): number {
  try {
    return parseTtl(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

function secret(value: string): Uint8Array {
  // The server refuses a blank AUTH_SECRET (see cli.ts), so a token signed with one is of no use.
  if (value.trim() === '') throw new InvalidArgumentError('an empty secret is not allowed');
  try {
    return secretKey(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

/*
 * The claims are checked against the limits the server verifies them with (`auth/token.ts`), so
 * every token this prints is one the server accepts. Lengths are `String.length`, as there.
 */

function docClaim(value: string): string {
  if (value.length === 0 || value.slice(0, -1).includes('*')) {
    throw new InvalidArgumentError('expected a document name, or a prefix ending in "*" ("team/*", or "*" for every document)');
  }
  if (value.length > MAX_DOC_CLAIM_LENGTH) {
    throw new InvalidArgumentError(`expected a document name or prefix of at most ${MAX_DOC_CLAIM_LENGTH} characters, got ${value.length}`);
  }
  return value;
}

function subject(value: string): string {
  if (value.trim() === '' || value.length > MAX_SUB_LENGTH) {
    throw new InvalidArgumentError(`expected a user id of 1 to ${MAX_SUB_LENGTH} characters, got ${value.length}`);
  }
  return value;
}

const program = new Command('collab-server-token')
  .description('Print an access token (a JWT signed with HS256) for a collab-server started with the same --auth-secret.')
  .version(VERSION)
  .addOption(
    new Option('--doc <name>', `document name, or a prefix ending in * ("team/*"; "*" for every document); at most ${MAX_DOC_CLAIM_LENGTH} characters`)
      .makeOptionMandatory()
      .argParser(docClaim),
  )
  .addOption(new Option('--mode <mode>', 'rw: read and write; ro: read only').choices(['rw', 'ro']).default('ro'))
  .addOption(new Option('--ttl <lifetime>', 'lifetime: seconds, or with a unit: 15m, 1h, 7d').default(3600, '1h').argParser(ttl))
  .addOption(
    new Option('--sub <id>', `user id (at most ${MAX_SUB_LENGTH} characters), shown as the connection's identity in the server's logs`).argParser(subject),
  )
  .addOption(
    new Option('--admin', 'also allow deleting the documents --doc covers and restoring their versions, and, with --doc "*", backups (needs --mode rw)'),
  )
  .addOption(
    new Option('--secret <secret>', `the server's auth secret (at least ${MIN_SECRET_BYTES} bytes)`).env('AUTH_SECRET').makeOptionMandatory().argParser(secret),
  )
  .showHelpAfterError()
  .parse();

const options = program.opts<{ doc: string; mode: 'rw' | 'ro'; ttl: number; sub?: string; admin?: true; secret: Uint8Array }>();
if (options.admin && options.mode !== 'rw') program.error('error: --admin needs --mode rw: deleting and restoring are writes');
const token = await mintToken(options.secret, { doc: options.doc, mode: options.mode, sub: options.sub, admin: options.admin }, options.ttl);
process.stdout.write(`${token}\n`);
