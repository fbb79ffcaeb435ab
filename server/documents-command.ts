/**
 * `collab-server export <name>` and `collab-server import <name> <file>`: a document's content out
 * of, and into, a running server (through the documents API, `--url`) or a stopped one's data
 * directory (`--data-dir`, the store opened directly; refused while a server holds it).
 *
 * Export writes Markdown, HTML, JSON, text or the Yjs state to stdout or `--output`. Import
 * replaces the editor's content (Markdown, HTML or ProseMirror JSON, from the file's extension or
 * `--format`) as an edit, or applies a Yjs update (`.yjs`); it creates the document if needed,
 * and creates a deleted one again.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../persistence/level/store.js';
import { applyStoredDocument } from '../persistence/compaction.js';
import { parseDocumentName, validateDocumentName } from '../protocol/document-name.js';
import { validateUpdate } from '../protocol/yjs-update.js';
import { ContentError, UnreadableContentError } from './documents/errors.js';
import { EXPORT_FORMATS, type ExportFormat, exportDocument, type ImportFormat, parseDocument } from './documents/formats.js';
import { replaceContent } from './documents/replace.js';
import { missingDependency } from './sync/update-check.js';
import { VERSION } from './version.js';
import { runSubcommand } from './subcommand.js';

type Format = ExportFormat | 'yjs';

/** Where the document is: a running server's URL, or a stopped server's data directory. */
interface Target {
  readonly url?: string;
  readonly dataDir: string;
  readonly token?: string;
}

/** Runs the command; resolves with the exit code. Failures are said on stderr in one line. */
export function runDocumentsCommand(argv: readonly string[]): Promise<number> {
  return runSubcommand(program(), argv);
}

function program(): Command {
  const where = (command: Command): Command =>
    command
      .addOption(new Option('--url <url>', 'a running server (http(s)://host:port); without it, the data directory').env('COLLAB_URL'))
      .addOption(new Option('--data-dir <path>', "a stopped server's data directory").env('DATA_DIR').default('./data'))
      .addOption(new Option('--token <token>', 'a token for a server run with --auth-secret').env('TOKEN'));
  const root = new Command('collab-server').version(VERSION).exitOverride().showHelpAfterError();
  where(
    root
      .command('export <name>')
      .description("print a document's content (or write it to --output)")
      .addOption(new Option('--format <format>', 'content format').choices([...EXPORT_FORMATS, 'yjs']).default('markdown'))
      .option('--output <file>', 'write to this file instead of stdout'),
  ).action(async (name: string, options: Target & { format: Format; output?: string }) => {
    const content =
      options.url === undefined
        ? await exportFromStore(options.dataDir, documentName(name), options.format)
        : await exportFromServer(options, name, options.format);
    if (options.output === undefined) process.stdout.write(content);
    else await writeFile(options.output, content);
  });
  where(
    root
      .command('import <name> <file>')
      .description("replace a document's content with a file's (Markdown, HTML, ProseMirror JSON), or apply a Yjs update (.yjs)")
      .addOption(new Option('--format <format>', 'the file format (default: from its extension)').choices(['markdown', 'html', 'json', 'yjs'])),
  ).action(async (name: string, file: string, options: Target & { format?: ImportFormat | 'yjs' }) => {
    const format = options.format ?? formatOf(file);
    const body = await readFile(file);
    const said =
      options.url === undefined
        ? await importIntoStore(options.dataDir, documentName(name), body, format)
        : await importIntoServer(options, name, body, format);
    process.stderr.write(`${said}\n`);
  });
  return root;
}

/** The format of a file to import, from its extension. */
function formatOf(file: string): ImportFormat | 'yjs' {
  const formats: Record<string, ImportFormat | 'yjs'> = {
    '.md': 'markdown',
    '.markdown': 'markdown',
    '.html': 'html',
    '.htm': 'html',
    '.json': 'json',
    '.yjs': 'yjs',
  };
  const format = formats[extname(file).toLowerCase()];
  if (format === undefined) throw new Error(`cannot tell the format of ${file} from its extension: pass --format`);
  return format;
}

function documentName(name: string): string {
  return validateDocumentName(name, 4096);
}

async function exportFromServer(target: Target, name: string, format: Format): Promise<Uint8Array> {
  const response = await request(target, name, `?format=${format}`, { method: 'GET' });
  return new Uint8Array(await response.arrayBuffer());
}

async function importIntoServer(target: Target, name: string, body: Uint8Array<ArrayBuffer>, format: ImportFormat | 'yjs'): Promise<string> {
  if (format === 'yjs') {
    await request(target, name, '/updates', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    return `applied the update to "${name}"`;
  }
  const types: Record<ImportFormat, string> = { markdown: 'text/markdown', html: 'text/html', json: 'application/json' };
  const response = await request(target, name, '', { method: 'PUT', body, headers: { 'content-type': types[format] } });
  const { created, changed } = (await response.json()) as { created: boolean; changed: boolean };
  return created ? `created "${name}"` : changed ? `replaced the content of "${name}"` : `"${name}" already had this content`;
}

/** A request to the documents API; throws with the server's JSON error unless it succeeded. */
async function request(target: Target, name: string, rest: string, init: RequestInit): Promise<Response> {
  parseDocumentName(encodeURIComponent(name), 4096);
  const url = `${target.url!.replace(/\/+$/, '')}/api/documents/${encodeURIComponent(name)}${rest}`;
  const headers = new Headers(init.headers);
  if (target.token !== undefined) headers.set('authorization', `Bearer ${target.token}`);
  const response = await fetch(url, { ...init, headers }).catch((error: unknown) => {
    throw new Error(`could not reach ${target.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error)}`);
  });
  if (response.ok) return response;
  const text = await response.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not JSON: said as it is
  }
  throw new Error(`the server answered ${response.status}: ${message}`);
}

async function exportFromStore(dataDir: string, name: string, format: Format): Promise<Uint8Array | string> {
  return withStore(dataDir, async (store) => {
    const stored = await store.load(name);
    if (stored.deletedAt !== null) throw new Error(`"${name}" was deleted`);
    if (stored.state === null && stored.updates.length === 0) throw new Error(`there is no document "${name}" in ${resolve(dataDir)}`);
    const doc = new Y.Doc();
    applyStoredDocument(doc, stored);
    return format === 'yjs' ? Y.encodeStateAsUpdate(doc) : converted(() => exportDocument(doc, format));
  });
}

async function importIntoStore(dataDir: string, name: string, body: Uint8Array<ArrayBuffer>, format: ImportFormat | 'yjs'): Promise<string> {
  return withStore(dataDir, async (store) => {
    const stored = await store.load(name);
    const existed = stored.deletedAt === null && (stored.state !== null || stored.updates.length > 0);
    const doc = new Y.Doc();
    applyStoredDocument(doc, stored);
    let update: Uint8Array | null;
    if (format === 'yjs') {
      validateUpdate(body);
      const missing = missingDependency(doc, body);
      if (missing !== null) throw new Error(`the update cannot be applied: ${missing}`);
      update = body;
    } else {
      const content = converted(() => parseDocument(new TextDecoder('utf-8', { fatal: true }).decode(body), format));
      update = converted(() => replaceContent(doc, content));
    }
    if (update === null && existed) return `"${name}" already had this content`;
    // A deleted document is created again by a write: an empty one writes its empty state.
    await store.append(name, update ?? Y.encodeStateAsUpdate(doc));
    return existed ? `replaced the content of "${name}"` : `created "${name}"`;
  });
}

/** Opens the data directory's store for `body`, and closes it. */
async function withStore<T>(dataDir: string, body: (store: LevelDocumentStore) => Promise<T>): Promise<T> {
  const store = await LevelDocumentStore.open(resolve(dataDir));
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** `body`, with a conversion's errors said as they are. */
function converted<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof ContentError || error instanceof UnreadableContentError) throw new Error(error.message);
    throw error;
  }
}
