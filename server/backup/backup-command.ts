/**
 * `collab-server backup <file> --url URL` and `collab-server restore <file> --data-dir DIR`
 * (or `--postgres-url URL`; docs/operations.md, Backups).
 *
 * Backup streams a running server's archive (`GET /api/admin/backup`) into `<file>`, checking
 * every record as it arrives; the file appears, synced, under its name only once the whole
 * archive checked out, so `<file>` is never a partial backup. Restore checks the whole archive
 * first, then fills an empty store from it (`restore-target.ts`); a bad archive changes nothing,
 * and a restore that fails midway removes what it wrote.
 */
import { open, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Command, Option } from 'commander';
import { BACKUP_PATH } from '../http/backup.js';
import { VERSION } from '../version.js';
import { runSubcommand } from '../subcommand.js';
import { readArchive } from './archive.js';
import { restoreArchive } from './restore.js';
import { dataDirTarget, postgresTarget, type RestoreTarget } from './restore-target.js';
import { Progress } from './progress.js';

/** Runs the command; resolves with the exit code. Failures are said on stderr in one line. */
export function runBackupCommand(argv: readonly string[]): Promise<number> {
  return runSubcommand(program(), argv);
}

function program(): Command {
  const root = new Command('collab-server').version(VERSION).exitOverride().showHelpAfterError();
  root
    .command('backup <file>')
    .description("write a consistent backup of a running server's documents (and their versions) to <file>")
    .addOption(new Option('--url <url>', 'the running server (http(s)://host:port)').env('COLLAB_URL').makeOptionMandatory())
    .addOption(new Option('--token <token>', 'a token with "admin": true for every document, for a server run with --auth-secret').env('TOKEN'))
    .option('--no-versions', 'leave the version history out')
    .action((file: string, options: { url: string; token?: string; versions: boolean }) => backup(file, options));
  root
    .command('restore <file>')
    .description('fill an empty store from a backup: a data directory, or a PostgreSQL database (start the server on it afterwards)')
    .addOption(new Option('--data-dir <path>', 'the LevelDB data directory to fill: absent or empty').env('DATA_DIR'))
    .addOption(
      new Option('--postgres-url <url>', 'the PostgreSQL database to fill instead: its schema "collab" absent, or holding no document').env('POSTGRES_URL'),
    )
    .action(async (file: string, options: { dataDir?: string; postgresUrl?: string }) => {
      const target = restoreTarget(options);
      const { documents, versions } = await restoreArchive(file, target);
      process.stderr.write(`restored ${documents} document(s) and ${versions} version(s) into ${target.shown}\n`);
    });
  return root;
}

/** Where `restore` writes: exactly one of the two options. */
function restoreTarget({ dataDir, postgresUrl }: { dataDir?: string; postgresUrl?: string }): RestoreTarget {
  if ((dataDir === undefined) === (postgresUrl === undefined)) {
    throw new Error('restore needs one place to fill: --data-dir <path> (LevelDB) or --postgres-url <url> (PostgreSQL), not both');
  }
  return postgresUrl !== undefined ? postgresTarget(postgresUrl) : dataDirTarget(resolve(dataDir!));
}

async function backup(file: string, options: { url: string; token?: string; versions: boolean }): Promise<void> {
  const url = `${options.url.replace(/\/+$/, '')}${BACKUP_PATH}${options.versions ? '' : '?versions=false'}`;
  const headers: Record<string, string> = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  const response = await fetch(url, { headers }).catch((error: unknown) => {
    throw new Error(`could not reach ${options.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error)}`);
  });
  if (!response.ok || response.body === null) throw new Error(`the server answered ${response.status}: ${await messageOf(response)}`);

  const target = resolve(file);
  const partial = `${target}.partial-${process.pid}`;
  const output = await open(partial, 'wx');
  const progress = new Progress('backup');
  let done = false;
  try {
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) as AsyncIterable<Uint8Array>;
    // Each chunk goes to the file as the reader takes it: the archive is never all in memory.
    async function* written(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        await output.write(chunk);
        progress.bytes += chunk.byteLength;
        yield chunk;
      }
    }
    for await (const record of readArchive(written())) {
      if (record.type === 'document') progress.documents++;
      else if (record.type === 'version') progress.versions++;
      progress.tick();
    }
    await output.sync();
    done = true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`the backup failed, and ${file} was not written: ${reason}`);
  } finally {
    await output.close();
    if (!done) await rm(partial, { force: true });
  }
  await rename(partial, target);
  await syncDirectory(resolve(target, '..'));
  progress.finish(`backed up ${progress.documents} document(s) and ${progress.versions} version(s) to ${file}`);
}

/** The message of a JSON error body, or the body as it is. */
async function messageOf(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

/** Makes a rename in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
