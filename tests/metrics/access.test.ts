/**
 * Who reads `/metrics`, under real server processes: open on the main port of an open server;
 * with `--auth-secret`, only with the metrics token or on the loopback metrics port, and never
 * by accident (no option: not served, said at start and in the refusal). The metrics port serves
 * `/metrics`, `/readyz` and `/healthz`, and nothing of the documents.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { scrape } from '../helpers/prometheus.js';
import { type ServerProcess, startTestServer } from '../helpers/server-process.js';
import { authArgs } from '../helpers/tokens.js';

const cleanup = cleanupAfterEach();
const run = promisify(execFile);
const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');

const METRICS_TOKEN = 'a-metrics-token-for-the-scraper';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly metricsPort?: number | null;
}

/** The start log's line about metrics. */
function metricsLine(server: ServerProcess): LogLine {
  const line = server.logs
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as LogLine)
    .find((entry) => entry.msg.startsWith('metrics'));
  if (line === undefined) throw new Error(`no start line about metrics in:\n${server.logs.join('\n')}`);
  return line;
}

/** The metrics port's base URL, as the start log gives it. */
function metricsPortUrl(server: ServerProcess): string {
  const port = metricsLine(server).metricsPort;
  if (typeof port !== 'number') throw new Error('the start log names no metrics port');
  return `http://127.0.0.1:${port}`;
}

async function refusal(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error: string; message: string }; authenticate: string | null }> {
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    body: (await response.json()) as { error: string; message: string },
    authenticate: response.headers.get('www-authenticate'),
  };
}

describe('who reads /metrics', () => {
  it('is anyone on the main port of a server without --auth-secret, and on its metrics port too', async () => {
    const server = await startTestServer(cleanup, { args: ['--metrics-port', '0'] });
    expect((await scrape(`${server.httpUrl}/metrics`)).value('collab_ready')).toBe(1);
    expect((await scrape(`${metricsPortUrl(server)}/metrics`)).value('collab_ready')).toBe(1);
    expect(metricsLine(server).msg).toMatch(/served at \/metrics of the main port and http:\/\/127\.0\.0\.1:\d+\/metrics, to anyone/);
  });

  it('is nobody with --auth-secret and neither a metrics token nor a metrics port: said at start and in the refusal', async () => {
    const server = await startTestServer(cleanup, { args: authArgs });
    const refused = await refusal(`${server.httpUrl}/metrics`);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      error: 'metrics-closed',
      message: 'with --auth-secret, /metrics is not served: set --metrics-token (METRICS_TOKEN) or --metrics-port (METRICS_PORT)',
    });
    const line = metricsLine(server);
    expect(line.level).toBe(40);
    expect(line.msg).toContain('/metrics is not served: with --auth-secret it needs --metrics-token (METRICS_TOKEN) or --metrics-port (METRICS_PORT)');
    // The health and readiness checks stay open: they tell states and counts, no names.
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/readyz`)).status).toBe(200);
    expect(refused.authenticate).toBeNull();
  });

  it('with --auth-secret and a metrics token, is whoever bears the token (401 without it, or with another)', async () => {
    const server = await startTestServer(cleanup, { args: authArgs, env: { METRICS_TOKEN } });
    const missing = await refusal(`${server.httpUrl}/metrics`);
    expect([missing.status, missing.body.error, missing.authenticate]).toEqual([401, 'token-missing', 'Bearer realm="metrics"']);
    const wrong = await refusal(`${server.httpUrl}/metrics`, { authorization: `Bearer ${METRICS_TOKEN}x` });
    expect([wrong.status, wrong.body.error]).toEqual([401, 'token-invalid']);
    const basic = await refusal(`${server.httpUrl}/metrics`, { authorization: `Basic ${METRICS_TOKEN}` });
    expect(basic.status).toBe(401);
    const metrics = await scrape(`${server.httpUrl}/metrics`, { authorization: `Bearer ${METRICS_TOKEN}` });
    // Refusals are counted: the missing token, and the Basic one.
    expect(metrics.value('collab_http_refusals_total', { kind: 'request', status: '401', code: 'token-missing' })).toBe(2);
    expect(metrics.value('collab_http_refusals_total', { kind: 'request', status: '401', code: 'token-invalid' })).toBe(1);
    expect(metricsLine(server).msg).toBe('metrics: served at /metrics of the main port, with the metrics token');
  });

  it('with --auth-secret and a metrics port, is anyone on the loopback port and nobody on the main one', async () => {
    const server = await startTestServer(cleanup, { args: [...authArgs, '--metrics-port', '0'] });
    const base = metricsPortUrl(server);
    expect(new URL(base).hostname).toBe('127.0.0.1');
    const metrics = await scrape(`${base}/metrics`);
    expect(metrics.value('collab_connections')).toBe(0);
    const refused = await refusal(`${server.httpUrl}/metrics`);
    expect([refused.status, refused.body.message]).toEqual([
      403,
      'with --auth-secret, /metrics is served only on the loopback metrics port (--metrics-port), or here with --metrics-token',
    ]);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Nothing else: no documents, no pages.
    const other = await fetch(`${base}/api/documents/anything`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { message: string }).message).toContain('this port serves /metrics, /readyz and /healthz');
    expect(metricsLine(server).msg).toMatch(/^metrics: served at http:\/\/127\.0\.0\.1:\d+\/metrics, to anyone$/);
  });

  it('refuses a short metrics token, and a metrics port that is the main one', async () => {
    const fail = (args: string[]) => run(process.execPath, [MAIN, ...args]).catch((error: { code: number; stderr: string }) => error);
    const short = (await fail(['--metrics-token', 'short'])) as { code: number; stderr: string };
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/--metrics-token.*at least 16 characters, without blanks/);
    const same = (await fail(['--port', '8123', '--metrics-port', '8123'])) as { code: number; stderr: string };
    expect(same.stderr).toContain('--metrics-port 8123 is the port of --port');
  });
});
