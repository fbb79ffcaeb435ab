/**
 * The Hocuspocus peer as the benchmark runs it: `@hocuspocus/server` with its defaults, and the
 * official Database extension storing each document's state in LevelDB (classic-level) under
 * `--data-dir`. Prints one JSON line `{"msg":"listening","port":N}` once it accepts connections.
 *
 *   node dist/bench/peers/hocuspocus-server.js --host 127.0.0.1 --port 0 --data-dir DIR
 */
import { Database } from '@hocuspocus/extension-database';
import { Server } from '@hocuspocus/server';
import { ClassicLevel } from 'classic-level';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string', default: './data-hocuspocus' },
  },
});

const db = new ClassicLevel<string, Uint8Array>(values['data-dir'], { valueEncoding: 'view' });
await db.open();

const server = new Server({
  address: values.host,
  port: Number(values.port),
  quiet: true,
  extensions: [
    new Database({
      fetch: async ({ documentName }) => (await db.get(documentName)) ?? null,
      store: async ({ documentName, state }) => {
        await db.put(documentName, state);
      },
    }),
  ],
  // Hocuspocus stores pending documents on SIGTERM, then calls this before it exits.
  onDestroy: async () => {
    await db.close();
  },
});
await server.listen();
console.log(JSON.stringify({ msg: 'listening', port: server.address.port }));
