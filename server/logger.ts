/** The process logger: pino, JSON lines for machines or a readable form for people. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { ServerConfig } from './config.js';

export type { Logger };

export function createLogger(config: Pick<ServerConfig, 'logLevel' | 'logFormat'>): Logger {
  const options = { level: config.logLevel, base: undefined };
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(options);
}
