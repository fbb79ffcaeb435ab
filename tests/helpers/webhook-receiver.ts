/**
 * A webhook receiver for tests: a real node:http server on an ephemeral port of 127.0.0.1 that
 * records every request, checks its signature with code of its own (an HMAC-SHA256 over
 * "<t>.<body>", not the server's module), and can go down (nothing listening: connections are
 * refused) and come back on the same port, or hang (take requests in and never answer).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver took. */
export interface ReceivedHook {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly event: { id: string; type: string; document: string; time: string };
  /** When it arrived (Date.now()). */
  readonly at: number;
  /** Whether its signature verified with the receiver's secret, within 5 minutes of now. */
  readonly signed: boolean;
}

export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  /** The status it answers with (200 unless a test says otherwise). */
  status = 200;
  /** While true, requests are taken in but never answered (a receiver that hangs). */
  hang = false;
  private server: Server | null = null;
  /** Checked after each request (see `waitFor`). */
  private readonly waiters = new Set<() => void>();
  private port = 0;

  private constructor(private readonly secret: string) {}

  /** Starts a receiver that verifies with `secret`. */
  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await receiver.up();
    return receiver;
  }

  /** The URL to give the server. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/collab?token=receiver-secret-query`;
  }

  /** The requests for `document` of `type`, in arrival order. */
  of(type: string, document?: string): ReceivedHook[] {
    return this.received.filter((hook) => hook.event.type === type && (document === undefined || hook.event.document === document));
  }

  /** Listens (again, on the same port once it had one). */
  async up(): Promise<void> {
    const server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        this.received.push({ headers: request.headers, body, event: JSON.parse(body), at: Date.now(), signed: this.verify(request.headers, body) });
        if (!this.hang) response.writeHead(this.status, { 'content-type': 'text/plain' }).end('thanks');
        for (const check of [...this.waiters]) check();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection: requests are refused until `up`. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once `predicate` holds of what was received, checked now and after each request. */
  waitFor(predicate: (received: readonly ReceivedHook[]) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.received)) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received:\n${this.received.map((hook) => hook.body).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private verify(headers: IncomingHttpHeaders, body: string): boolean {
    const header = headers['x-collab-signature'];
    const match = typeof header === 'string' ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
    if (match === null) return false;
    if (Math.abs(Date.now() / 1000 - Number(match[1])) > 300) return false;
    const expected = createHmac('sha256', this.secret).update(`${match[1]}.${body}`).digest();
    return timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'));
  }
}
