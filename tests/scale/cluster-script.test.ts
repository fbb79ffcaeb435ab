/**
 * `npm run cluster`, the README's way to try several instances: it starts PostgreSQL, Redis, the
 * instances and the balancer, clients through the balancer on different instances edit together,
 * and Ctrl-C stops everything and removes its directory.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { describeWithRedis } from '../helpers/redis.js';

const SCRIPT = resolve(import.meta.dirname, '../../examples/cluster/run.mjs');

describeWithRedis(
  'npm run cluster',
  () => {
    it('serves one document from several instances behind its balancer, and Ctrl-C stops it all', async () => {
      const child = spawn(process.execPath, [SCRIPT, '--port', '0', '--instances', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      const lines: string[] = [];
      const url = await new Promise<string>((done, fail) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(line);
          const match = /instances behind (http:\/\/\S+):/.exec(line);
          if (match) done(match[1]!);
        });
        void exited.then((code) => fail(new Error(`the cluster exited with ${code}:\n${lines.join('\n')}`)));
      });
      const dir = decodeURIComponent(/host=([^,\s]+)/.exec(lines.join('\n'))![1]!);
      expect(existsSync(dir)).toBe(true);
      const wsUrl = `${url.replace('http', 'ws')}/ws`;
      // The balancer takes turns: consecutive clients land on different instances.
      const clients = [0, 1, 2, 3].map(() => connectClient(wsUrl, 'tried'));
      try {
        await Promise.all(clients.map((client) => client.synced));
        clients[0]!.doc.getText('t').insert(0, 'across instances');
        for (const client of clients)
          await waitForDoc(client.doc, () => client.doc.getText('t').toString() === 'across instances', 'the edit everywhere', 10_000);
      } finally {
        for (const client of clients) client.destroy();
      }
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(lines.filter((line) => line.includes('stopped; every write is stored'))).toHaveLength(2);
      expect(existsSync(dir)).toBe(false);
    });
  },
  postgresUnavailable(),
);
