/**
 * A peer that stops answering pings (a laptop lid closed, a dropped network) is detected and
 * dropped, and the presence it published disappears for everyone else.
 */
import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, connectRaw } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ args: ['--ping-interval', '200'] });
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

describe('dead peers', () => {
  it('drops a peer that does not answer pings and removes its presence', async () => {
    const watcher = connectClient(server.wsUrl, 'lively');
    await watcher.synced;
    // A raw peer that never answers pings, and announces itself first.
    const silent = connectRaw(`${server.wsUrl}/lively`, { autoPong: false });
    await silent.opened;
    const state = encoding.createEncoder();
    encoding.writeVarUint(state, 1);
    encoding.writeVarUint(state, 777);
    encoding.writeVarUint(state, 1);
    encoding.writeVarString(state, JSON.stringify({ user: { name: 'ghost' } }));
    const frame = encoding.createEncoder();
    encoding.writeVarUint(frame, 1);
    encoding.writeVarUint8Array(frame, encoding.toUint8Array(state));
    silent.socket.send(encoding.toUint8Array(frame));

    const appeared = new Promise<void>((resolve) => {
      const check = () => watcher.provider.awareness.getStates().has(777) && resolve();
      watcher.provider.awareness.on('change', check);
      check();
    });
    await appeared;
    const removed = new Promise<void>((resolve) => {
      watcher.provider.awareness.on('change', ({ removed }: { removed: number[] }) => removed.includes(777) && resolve());
    });

    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // terminated without a handshake: the peer is presumed gone
    await removed;
    // The well-behaved client answers pings and stays.
    expect(watcher.provider.wsconnected).toBe(true);
    watcher.destroy();
  });
});
