import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import { BarelbError } from '../errors.js';
import { formatLogLine } from './log-text.js';

export type { Logger };

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class InvalidLogFormatError extends BarelbError {
  readonly code = 'BARELB_INVALID_LOG_FORMAT';
  constructor(value: string, source: string) {
    super(`${source} ${JSON.stringify(value)}: expected one of ${LOG_FORMATS.join(', ')}`);
  }
}

/** The log format from the flag, else BARELB_LOG_FORMAT, else json. */
export function logFormatOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const [value, source] = flag !== undefined ? [flag, '--log-format'] : [env['BARELB_LOG_FORMAT'] ?? 'json', 'BARELB_LOG_FORMAT'];
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidLogFormatError(value, source);
  return value as LogFormat;
}

/**
 * The process's one logger, on stdout, level from the option, else
 * BARELB_LOG_LEVEL (or LOG_LEVEL), default info. JSON lines by default;
 * `text` renders each line for a human. Components take children of it.
 */
export function createRootLogger(options: { level?: string; format?: LogFormat } = {}): Logger {
  const level = options.level ?? process.env['BARELB_LOG_LEVEL'] ?? process.env['LOG_LEVEL'] ?? 'info';
  // Synchronous writes: the last lines before an exit are never lost or reordered.
  const destination: DestinationStream =
    options.format === 'text'
      ? { write: (line: string) => void writeSync(1, `${formatLogLine(line.trimEnd())}\n`) }
      : pino.destination({ dest: 1, sync: true });
  return pino({ level, base: { app: 'barelb' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
