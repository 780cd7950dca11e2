import { BarelbError } from '../errors.js';
import { parseListenAddress } from '../observability/http-server.js';

export class InvalidFlagError extends BarelbError {
  readonly code = 'BARELB_INVALID_FLAG';
  constructor(flag: string, value: string, expected: string) {
    super(`--${flag} ${JSON.stringify(value)}: expected ${expected}`);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "15s", "500ms", "2m", "1.5s" -> milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new InvalidFlagError(flag, text, 'a duration such as 15s, 500ms or 2m');
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

export function parsePositiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidFlagError(flag, text, 'a whole number of at least 1');
  return Number(text);
}

/** A listen address flag (--metrics-addr): checked with the other flags, a usage error when malformed. */
export function checkListenAddress(flag: string, text: string): void {
  try {
    parseListenAddress(text);
  } catch {
    throw new InvalidFlagError(flag, text, 'HOST:PORT, e.g. 0.0.0.0:7473, [::]:7473 or :7473 ("" turns it off)');
  }
}
