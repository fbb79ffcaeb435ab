/**
 * A load balancer of a few lines, for trying several instances on one machine: it passes each TCP
 * connection (HTTP or WebSocket alike) to the next instance in turn, and to the one after if that
 * one refuses it, so a client reconnecting after an instance died lands on a live one. No routing
 * by document: any instance serves any document. In production, use nginx or your platform's own.
 *
 *   import { startBalancer } from './balancer.mjs';
 *   const balancer = await startBalancer(8080, () => ['127.0.0.1:1235', '127.0.0.1:1236']);
 */
import { connect, createServer } from 'node:net';

/** Listens on `port` of 127.0.0.1 (0: any free one), passing connections to `backends()` ("host:port"); resolves with the server. */
export function startBalancer(port, backends) {
  let next = 0;
  const server = createServer((client) => {
    client.on('error', () => client.destroy());
    const tryBackend = (attempt) => {
      const list = backends();
      if (attempt >= list.length) return client.destroy();
      const [host, backendPort] = list[next++ % list.length].split(':');
      const upstream = connect({ host, port: Number(backendPort) });
      let connected = false;
      upstream.on('error', () => (connected || client.destroyed ? client.destroy() : tryBackend(attempt + 1)));
      upstream.once('connect', () => {
        connected = true;
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
    };
    tryBackend(0);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
