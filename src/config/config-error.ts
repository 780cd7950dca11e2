import { BarelbError } from '../errors.js';

/** One thing wrong with a config: where (a path into the YAML), what was there, and why. */
export interface ConfigProblem {
  /** e.g. `pools[1].addresses[0]` */
  readonly path: string;
  /** The pool the problem is in, when it is in one that has a name. */
  readonly pool: string | undefined;
  readonly value: unknown;
  readonly message: string;
}

export class InvalidConfigError extends BarelbError {
  readonly code = 'BARELB_INVALID_CONFIG';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`invalid config: ${problems.map(formatProblem).join('; ')}`);
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.pool !== undefined ? `${p.path} (pool "${p.pool}")` : p.path || '<top level>';
  return `${where}: ${p.message}`;
}
