/**
 * A small proxy of the tests' own between a client and a service (PostgreSQL, Redis), with a
 * switch to cut it: every connection through it is closed at once and new ones are refused until it is
 * restored, as when the service is out of reach. It listens on a unix socket in a directory of
 * its own (for PostgreSQL, the `host` to connect to, holding `.s.PGSQL.<port>`), or on a TCP port
 * of 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the proxy listens: a socket file name in its directory, or TCP on 127.0.0.1 (`port` 0 for any free one). */
export type ProxyListen = { readonly socketName: string } | { readonly port: number };

export class FaultProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** The TCP port it listens on, when it listens on TCP. */
  port = 0;

  private constructor(
    /** The directory of its unix socket. */
    readonly dir: string,
    private readonly listen: ProxyListen,
    private readonly target: NetConnectOpts,
  ) {}

  /** Starts a proxy to `target` (a unix socket `path`, or `host` and `port`). */
  static async start(target: NetConnectOpts, listen: ProxyListen): Promise<FaultProxy> {
    const proxy = new FaultProxy(await mkdtemp(join(tmpdir(), 'fault-proxy-')), listen, target);
    await proxy.restore();
    return proxy;
  }

  /** A proxy to a PostgreSQL listening in `socketDir`: connect with `host: proxy.dir`. */
  static forPostgres(socketDir: string, port = 5432): Promise<FaultProxy> {
    return FaultProxy.start({ path: join(socketDir, `.s.PGSQL.${port}`) }, { socketName: `.s.PGSQL.${port}` });
  }

  /** Closes every connection through the proxy at once and refuses new ones (a unix socket is removed: ENOENT; a port closed: ECONNREFUSED). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Takes connections again (on the same socket or port). */
  async restore(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer((client) => this.forward(client));
    this.server = server;
    const path = 'socketName' in this.listen ? join(this.dir, this.listen.socketName) : null;
    if (path !== null && existsSync(path)) await rm(path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (path !== null) server.listen(path, resolve);
      else server.listen(this.port || (this.listen as { port: number }).port, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
  }

  /** Cuts it and removes its directory. */
  async close(): Promise<void> {
    await this.cut();
    await rm(this.dir, { recursive: true, force: true });
  }

  private forward(client: Socket): void {
    const upstream = connect(this.target);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
