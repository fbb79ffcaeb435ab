/** The process logger: pino, JSON lines for machines or a readable form for people. */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { ServerConfig } from './config.js';

export type { Logger };

/** pino-pretty is loaded only for the pretty format: JSON logging never needs it (about 1 MiB resident, measured). */
const require = createRequire(import.meta.url);

/** The server's logger: pino, at the configured level, pretty on a terminal unless JSON is asked for. */
export function createLogger(config: Pick<ServerConfig, 'logLevel' | 'logFormat'>): Logger {
  const options = { level: config.logLevel, base: undefined };
  if (config.logFormat === 'pretty') {
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(options);
}
