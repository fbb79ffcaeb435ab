#!/usr/bin/env node
/**
 * Mints an access token for operators: `npm run -s token -- --doc NAME --mode ro --ttl 1h`.
 * Prints the token alone on stdout, so it can be captured (`TOKEN=$(npm run -s token -- ...)`).
 * The secret comes from `--secret` or, better (a flag shows in the process list), `AUTH_SECRET`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MIN_SECRET_BYTES, mintToken, parseTtl, secretKey } from './auth/token.js';
import { VERSION } from './version.js';

function ttl(value: string): number {
  try {
    return parseTtl(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

function secret(value: string): Uint8Array {
  try {
    return secretKey(value);
  } catch (error) {
    throw new InvalidArgumentError((error as RangeError).message);
  }
}

function docClaim(value: string): string {
  if (value.length === 0 || value.slice(0, -1).includes('*')) {
    throw new InvalidArgumentError('expected a document name, or a prefix ending in "*" ("team/*", or "*" for every document)');
  }
  return value;
}

const program = new Command('collab-server-token')
  .description('Print an access token (a JWT signed with HS256) for a collab-server started with the same --auth-secret.')
  .version(VERSION)
  .addOption(new Option('--doc <name>', 'document name, or a prefix ending in * ("team/*"; "*" for every document)').makeOptionMandatory().argParser(docClaim))
  .addOption(new Option('--mode <mode>', 'rw: read and write; ro: read only').choices(['rw', 'ro']).default('ro'))
  .addOption(new Option('--ttl <lifetime>', 'lifetime: seconds, or with a unit: 15m, 1h, 7d').default(3600, '1h').argParser(ttl))
  .addOption(new Option('--sub <id>', 'user id, shown as the connection\'s identity in the server\'s logs'))
  .addOption(
    new Option('--secret <secret>', `the server's auth secret (at least ${MIN_SECRET_BYTES} bytes)`)
      .env('AUTH_SECRET')
      .makeOptionMandatory()
      .argParser(secret),
  )
  .showHelpAfterError()
  .parse();

const options = program.opts<{ doc: string; mode: 'rw' | 'ro'; ttl: number; sub?: string; secret: Uint8Array }>();
const token = await mintToken(options.secret, { doc: options.doc, mode: options.mode, sub: options.sub }, options.ttl);
process.stdout.write(`${token}\n`);
