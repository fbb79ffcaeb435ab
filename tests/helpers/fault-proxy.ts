/**
 * A small proxy of the tests' own between a client and a service (PostgreSQL, Redis), with two
 * faults until it is restored: `cut`, every connection through it closed at once and new ones
 * refused, as when the service is out of reach; and `hang`, every connection kept open with no
 * byte passing either way, as when a network path or a host drops packets without a reset. It
 * listens on a unix socket in a directory of its own (for PostgreSQL, the `host` to connect to,
 * holding `.s.PGSQL.<port>`), or on a TCP port of 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the proxy listens: a socket file name in its directory, or TCP on 127.0.0.1 (`port` 0 for any free one). */
export type ProxyListen = { readonly socketName: string } | { readonly port: number };

/** One connection through the proxy: the client's end and the service's. */
interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
}

export class FaultProxy {
  private server: Server | null = null;
  private readonly links = new Set<Link>();
  private hung = false;
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
    this.hung = false;
    for (const link of this.links) this.drop(link);
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops every byte, both ways, on every connection, open or made from now on (they are accepted,
   * and get no answer), and keeps them open: a peer that closes or resets its end goes unheard.
   * What is sent meanwhile waits in the proxy's buffers.
   */
  hang(): void {
    this.hung = true;
    for (const link of this.links) {
      link.client.unpipe(link.upstream).pause();
      link.upstream.unpipe(link.client).pause();
    }
  }

  /**
   * Ends a fault. After a hang, as when a partition heals: what waited goes on (statements sent
   * before the hang, or during it, arrive and run), then the ends that closed are passed on, and a
   * connection one end of which broke is closed. After a cut, connections are taken again (on the
   * same socket or port).
   */
  async restore(): Promise<void> {
    if (this.hung) {
      this.hung = false;
      for (const link of this.links) {
        if (link.client.destroyed || link.upstream.destroyed) this.drop(link);
        else flow(link);
      }
    }
    if (this.server !== null) return;
    // Half-open, so that an end closed during a hang is not answered at once: `pipe` passes it on.
    const server = createServer({ allowHalfOpen: true }, (client) => this.forward(client));
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
    const link: Link = { client, upstream: connect({ ...this.target, allowHalfOpen: true }) };
    this.links.add(link);
    for (const socket of [client, link.upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (!this.hung) this.drop(link);
      });
    }
    if (!this.hung) flow(link);
  }

  private drop(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream.destroy();
  }
}

function flow({ client, upstream }: Link): void {
  client.pipe(upstream);
  upstream.pipe(client);
}
