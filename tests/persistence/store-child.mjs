// A process that holds a DocumentStore and writes to it until it is killed (`kill -9`), for the
// store contract's crash cases. Run by `store-contract.ts`; opens the built store (dist/).
//
//   node store-child.mjs <store JSON> <mode> <text>
//
// It types `text` into one document, one character per update (a fixed client id, so
// the parent can tell what each update is), and prints one JSON line per append that resolved:
// `{ "acked": <updates durable so far>, "position": <its position> }`. Mode `compact` also
// compacts after every few appends, up to the last position written, with the document's state.
// Mode `events` queues one event per character instead (`event/0000`, revision `r0`, ...) and
// reports each put that resolved as `acked`.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import * as Y from 'yjs';

const [spec, mode, TEXT] = [JSON.parse(process.argv[2]), process.argv[3], process.argv[4]];
const dist = resolve(import.meta.dirname, '../../dist/persistence');
const store = await openStore(spec);

if (mode === 'events') {
  for (let i = 0; i < TEXT.length; i++) {
    await store.putEvent({ key: `event/${String(i).padStart(4, '0')}`, revision: `r${i}`, data: Uint8Array.of(i % 256) });
    process.stdout.write(`${JSON.stringify({ acked: i + 1, position: i })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
  await new Promise(() => undefined); // wait to be killed
}

const doc = new Y.Doc();
doc.clientID = 7;
const text = doc.getText('text');
let acked = 0;
for (let i = 0; i < TEXT.length; i++) {
  let update;
  const take = (u) => (update = u);
  doc.on('update', take);
  text.insert(i, TEXT[i]);
  doc.off('update', take);
  const written = await store.append('doc', update);
  acked++;
  const position = written.position('doc');
  process.stdout.write(`${JSON.stringify({ acked, position })}\n`);
  if (mode === 'compact' && acked % 7 === 0) await store.compact('doc', Y.encodeStateAsUpdate(doc), position);
}
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
await new Promise(() => undefined); // wait to be killed

async function openStore({ kind, ...options }) {
  if (kind === 'level') {
    const { LevelDocumentStore } = await import(pathToFileURL(resolve(dist, 'level/store.js')).href);
    return LevelDocumentStore.open(options.dir, { fsync: options.fsync ?? false });
  }
  if (kind === 'postgres') {
    const { PostgresDocumentStore } = await import(pathToFileURL(resolve(dist, 'postgres/store.js')).href);
    return PostgresDocumentStore.open({ connection: options.connection, schema: options.schema });
  }
  throw new Error(`no store of kind ${kind}`);
}
