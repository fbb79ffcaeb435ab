/**
 * The connections of the Redis bus (node-redis): a subscriber and a publisher, made from one URL.
 * `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, or `unix:///path/to/redis.sock`.
 *
 * A connection that drops reconnects at once and then every `RECONNECT_MAX_MS` at most, for as
 * long as it takes; nothing is queued while it is down (a publish fails, and the bus catches up
 * once it is back), so an outage costs no memory.
 */
import { createClient } from 'redis';

export type RedisConnection = ReturnType<typeof createClient>;

/** Longest wait between two attempts to reconnect. */
const RECONNECT_MAX_MS = 1000;
/** Longest a connection attempt may take. */
const CONNECT_TIMEOUT_MS = 5000;

/** A client for `url`, not yet connected (`connect` it); `name` shows in Redis's CLIENT LIST. */
export function redisConnection(url: string, name: string): RedisConnection {
  return createClient({
    url,
    name,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), RECONNECT_MAX_MS),
    },
  });
}
