import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process's one logger: JSON lines on stdout, level from BARELB_LOG_LEVEL
 * (or LOG_LEVEL), default info. Components take children of it.
 */
export function createRootLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env['BARELB_LOG_LEVEL'] ?? process.env['LOG_LEVEL'] ?? 'info';
  // Synchronous writes: the last lines before an exit are never lost or reordered.
  return pino({ level, base: { app: 'barelb' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}
