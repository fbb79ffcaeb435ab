/**
 * The Hocuspocus 4.7 peer as the benchmark runs it (`@hocuspocus/server@4.7.0`, installed as
 * `hocuspocus-server-4` beside 3.4.4), with its defaults. Prints one JSON line
 * `{"msg":"listening","port":N}` once it accepts connections.
 *
 * - Alone (`--data-dir DIR`): the official Database extension storing each document's state in
 *   LevelDB (classic-level), as the 3.4.4 peer does (`hocuspocus-server.ts`).
 * - Scaled out (`--postgres-url URL --redis-socket PATH --instance-id ID`): the Database extension
 *   storing each document's state in one PostgreSQL row (`hocuspocus_documents`, upserted: the
 *   extension hands over the whole state, debounced), and the official Redis extension on a unix
 *   socket, so that instances share documents as its documentation shows.
 *
 *   node dist/bench/peers/hocuspocus4-server.js --host 127.0.0.1 --port 0 --data-dir DIR
 *   node dist/bench/peers/hocuspocus4-server.js --port 0 --postgres-url URL --redis-socket PATH --instance-id i0
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';
import type { Extension } from 'hocuspocus-server-4';
import pg from 'pg';

// npm nests a copy of @hocuspocus/server 4.7.0 (and of @hocuspocus/common) under the aliased Redis
// extension, since the top-level @hocuspocus/server is 3.4.4. The server must be that copy: the
// extension's messages and its SkipFurtherHooksError are checked with instanceof by the server.
// All three load as CommonJS, so that Yjs is loaded once (its CommonJS build) and not twice.
const require = createRequire(import.meta.url);
const { Database } = require('hocuspocus-extension-database-4') as typeof import('hocuspocus-extension-database-4');
const { Redis } = require('hocuspocus-extension-redis-4') as typeof import('hocuspocus-extension-redis-4');
const { Server } = createRequire(require.resolve('hocuspocus-extension-redis-4'))('@hocuspocus/server') as typeof import('hocuspocus-server-4');

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string', default: './data-hocuspocus-4' },
    'postgres-url': { type: 'string' },
    'redis-socket': { type: 'string' },
    'redis-prefix': { type: 'string', default: 'hocuspocus' },
    'instance-id': { type: 'string' },
  },
});

interface StateStore {
  fetch(name: string): Promise<Uint8Array | null>;
  store(name: string, state: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

async function levelStore(dir: string): Promise<StateStore> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
  await db.open();
  return {
    fetch: async (name) => (await db.get(name)) ?? null,
    store: async (name, state) => await db.put(name, state),
    close: async () => await db.close(),
  };
}

async function postgresStore(url: string): Promise<StateStore> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query('CREATE TABLE IF NOT EXISTS hocuspocus_documents (name text PRIMARY KEY, state bytea NOT NULL)');
  return {
    fetch: async (name) => {
      const { rows } = await pool.query<{ state: Buffer }>('SELECT state FROM hocuspocus_documents WHERE name = $1', [name]);
      return rows[0] === undefined ? null : new Uint8Array(rows[0].state);
    },
    store: async (name, state) => {
      await pool.query('INSERT INTO hocuspocus_documents (name, state) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state', [
        name,
        Buffer.from(state),
      ]);
    },
    close: async () => await pool.end(),
  };
}

const postgresUrl = values['postgres-url'];
const states = postgresUrl === undefined ? await levelStore(values['data-dir']) : await postgresStore(postgresUrl);
// The extensions' types name their own copies of the server's; the classes are the same code.
const extensions: unknown[] = [
  new Database({
    fetch: async ({ documentName }) => await states.fetch(documentName),
    store: async ({ documentName, state }) => await states.store(documentName, state),
  }),
];
const redisSocket = values['redis-socket'];
if (redisSocket !== undefined) {
  extensions.push(
    new Redis({
      options: { path: redisSocket },
      prefix: values['redis-prefix'],
      ...(values['instance-id'] === undefined ? {} : { identifier: values['instance-id'] }),
    }),
  );
}

const server = new Server({
  address: values.host,
  port: Number(values.port),
  quiet: true,
  extensions: extensions as unknown as Extension[],
  // Hocuspocus stores pending documents on SIGTERM, then calls this before it exits.
  onDestroy: async () => {
    await states.close();
  },
});
await server.listen();
console.log(JSON.stringify({ msg: 'listening', port: server.address.port }));
