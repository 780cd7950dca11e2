import { BarelbError } from '../errors.js';

/** An API call that got no answer within its deadline. The call may still have been applied. */
export class ApiDeadlineError extends BarelbError {
  readonly code = 'BARELB_API_DEADLINE';
  constructor(
    readonly operation: string,
    readonly ms: number,
  ) {
    super(`${operation}: no answer within ${ms} ms`);
  }
}

/**
 * `p`, or an ApiDeadlineError after `ms`. client-node 1.4 takes no per-call timeout, so a request to a
 * half-open connection would otherwise wait for the kernel's TCP timeout (minutes).
 */
export async function withDeadline<T>(p: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ApiDeadlineError(operation, ms)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
