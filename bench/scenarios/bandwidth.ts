/**
 * Bandwidth: bytes on the wire, counted on each client's TCP socket (the HTTP upgrade, frame
 * headers and masks, payloads as sent, compressed or not; see `counted-websocket.ts`), by clients
 * that offer permessage-deflate as browsers do and by clients that offer no extension. Whatever a
 * server agrees to is what is measured, and the notes say what it was.
 *
 * - First sync: the whole B4 trace is stored in a document (full mode: one update per keystroke,
 *   as cold-load replays it; quick mode: 1,000 keystrokes typed in one transaction per update,
 *   which leaves the server the same document: Yjs merges the same items either way, and the state
 *   it encodes is byte-identical). A first client then loads it and stays (the room is loaded, as
 *   when others are editing it), and a new client offering no extension, then one offering
 *   deflate, each syncs the whole document, waits until its connection is quiet, and leaves.
 * - Keystrokes: in a fresh room, a writer types the trace's first keystrokes one at a time (the
 *   next once every reader has the last), one update message each, with readers connected: per
 *   keystroke, the bytes the writer sent and received and the bytes each reader received.
 *
 * The issue's target: ours' first sync at least 3x smaller with deflate offered than without.
 */
import { BROWSER_DEFLATE_OFFER } from '../counted-websocket.js';
import type { KeystrokeBytesResult, SyncBytes } from '../loadgen/plans.js';
import { formatRatio } from '../report/table.js';
import { b4ClientId } from './cold-load.js';
import { cleanUp, dataDirFor, outcome, withServer, type Figure, type Scenario } from './scenario.js';

const KiB = 1024;
/** The typing writer's Yjs client id (fixed: the same keystrokes, byte for byte, for every server). */
const typingClientId = 515_151;

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** The bytes per keystroke a typing run shows: sent by the writer, received by the writer, received per reader. */
function perKeystroke(run: KeystrokeBytesResult): { writerSent: number; writerReceived: number; readerReceived: number } {
  const n = Math.max(1, run.sent);
  return {
    writerSent: run.writer.sent / n,
    writerReceived: run.writer.received / n,
    readerReceived: mean(run.readers.map((reader) => reader.received)) / n,
  };
}

const agreed = (extensions: string): string => (extensions === '' ? 'none' : extensions);

function syncNote(name: string, sync: SyncBytes): string {
  return (
    `${name}: ${sync.received.toLocaleString('en-US')} B received in ${sync.messages} messages ` +
    `(${sync.messageBytes.toLocaleString('en-US')} B of messages${sync.extensions === '' ? '' : ', inflated'}), ` +
    `${sync.sent.toLocaleString('en-US')} B sent, full text after ${sync.ms.toFixed(0)} ms`
  );
}

export const bandwidth: Scenario = {
  name: 'bandwidth',
  title: 'bandwidth: bytes on the wire, first sync of B4 and per keystroke',
  run: async (ctx, spec) => {
    const { syncKeystrokes, batch, typed, readers } = ctx.config.bandwidth;
    const dataDir = dataDirFor(ctx, spec, 'bandwidth');
    const doc = 'b4';
    const clientId = b4ClientId + syncKeystrokes;
    const { replay, syncs, typing } = await withServer(ctx, spec, dataDir, async (server) => {
      const target = { dialect: spec.dialect, urlTemplate: server.urlTemplate, serverPid: server.pid, serverCore: ctx.cores.server };
      const replay = await ctx.loadgen.replay({ ...target, doc, keystrokes: syncKeystrokes, window: 2000, clientId, batch });
      ctx.log(`  stored ${replay.keystrokes} keystrokes: ${replay.delivered}/${replay.updates} updates in ${(replay.ms / 1000).toFixed(1)} s`);
      const syncs = await ctx.loadgen.firstSyncs({ ...target, doc, clientId, updates: replay.updates, batch, timeoutMs: 120_000, quietMs: 100 });
      ctx.log(
        `  first sync: ${syncs.plain.received.toLocaleString('en-US')} B without deflate offered, ` +
          `${syncs.deflate.received.toLocaleString('en-US')} B with (agreed: ${agreed(syncs.deflate.extensions)})`,
      );
      const typing: KeystrokeBytesResult[] = [];
      for (const deflateOffered of [false, true]) {
        const run = await ctx.loadgen.keystrokeBytes({
          ...target,
          // Names of one length: Hocuspocus puts the name in every message.
          doc: deflateOffered ? 'typing-2' : 'typing-1',
          clientId: typingClientId,
          keystrokes: typed,
          readers,
          deflateOffered,
          timeoutMs: 5000,
          quietMs: 100,
        });
        const per = perKeystroke(run);
        ctx.log(
          `  ${run.sent} keystrokes${deflateOffered ? ', deflate offered' : ''}: writer sent ${per.writerSent.toFixed(1)} B each, ` +
            `each reader received ${per.readerReceived.toFixed(1)} B (${(run.ms / Math.max(1, run.sent)).toFixed(2)} ms per keystroke)`,
        );
        typing.push(run);
      }
      return { replay, syncs, typing };
    });
    cleanUp(ctx, dataDir);

    const [plainTyping, deflateTyping] = typing as [KeystrokeBytesResult, KeystrokeBytesResult];
    const plain = perKeystroke(plainTyping);
    const deflate = perKeystroke(deflateTyping);
    const failures: string[] = [];
    if (replay.delivered < replay.updates) failures.push(`storing B4: ${replay.updates - replay.delivered} of ${replay.updates} updates never delivered`);
    for (const [name, sync] of Object.entries(syncs)) {
      if (!sync.complete) failures.push(`first sync (${name}): got ${sync.length} of ${sync.expectedLength} characters`);
    }
    for (const run of typing) {
      if (run.delivered < run.keystrokes) {
        failures.push(
          `typing${run.deflateOffered ? ' (deflate offered)' : ''}: keystroke ${run.delivered + 1} of ${run.keystrokes} did not reach every reader`,
        );
      }
    }
    const figures: Figure[] = [
      { key: 'syncPlain', label: 'first sync of B4, no deflate offered', value: syncs.plain.received / KiB, unit: 'KiB', better: 'lower' },
      { key: 'syncDeflate', label: 'first sync of B4, deflate offered', value: syncs.deflate.received / KiB, unit: 'KiB', better: 'lower' },
      {
        key: 'syncSaving',
        label: 'first sync, saved by deflate',
        value: syncs.plain.received / syncs.deflate.received,
        unit: 'x',
        better: 'higher',
        target: { bound: 3 },
        ratio: false,
      },
      { key: 'keyWriter', label: 'keystroke, writer sent', value: plain.writerSent, unit: 'B', better: 'lower', info: true },
      { key: 'keyReader', label: 'keystroke, each reader received', value: plain.readerReceived, unit: 'B', better: 'lower', info: true },
      { key: 'keyWriterReceived', label: 'keystroke, writer received', value: plain.writerReceived, unit: 'B', better: 'lower', info: true },
      { key: 'keyWriterDeflate', label: 'keystroke, writer sent, deflate offered', value: deflate.writerSent, unit: 'B', better: 'lower', info: true },
      {
        key: 'keyReaderDeflate',
        label: 'keystroke, each reader received, deflate offered',
        value: deflate.readerReceived,
        unit: 'B',
        better: 'lower',
        info: true,
      },
    ];
    const typingExtensions = [...new Set([deflateTyping.writer, ...deflateTyping.readers].map((client) => agreed(client.extensions)))];
    const pings = [...Object.values(syncs), ...typing.flatMap((run) => [run.writer, ...run.readers])].reduce((sum, c) => sum + c.pings, 0);
    return outcome(bandwidth, spec, {
      figures,
      failures,
      notes: [
        `deflate offered (${BROWSER_DEFLATE_OFFER}): the server agreed to ${agreed(syncs.deflate.extensions)} ` +
          `(first sync), ${typingExtensions.join(' / ')} (typing)`,
        `B4 stored as ${replay.keystrokes.toLocaleString('en-US')} keystrokes in ${replay.updates.toLocaleString('en-US')} updates; ` +
          `then ${syncNote('the first client', syncs.primer)}`,
        `first sync with the room loaded: ${syncNote('no deflate offered', syncs.plain)}; ${syncNote('deflate offered', syncs.deflate)}; ` +
          `saved ${formatRatio(syncs.plain.received / syncs.deflate.received)}`,
        `keystrokes: the first ${plainTyping.sent} of the trace, averaged (updates of ${(plainTyping.updateBytes / Math.max(1, plainTyping.sent)).toFixed(1)} B), ` +
          `${readers} readers; the writer received ${plain.writerReceived.toFixed(1)} B per keystroke ` +
          `(${plainTyping.writer.messages} messages), ${deflate.writerReceived.toFixed(1)} B with deflate offered` +
          (pings > 0 ? `; ${pings} server pings not counted` : ''),
      ],
      raw: { replay, batch, syncs, typing },
    });
  },
};
