/** HTTP status of a failed client-node call, or undefined for network-level failures. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/**
 * The API server answered (403, 409, 429, 500...): it is reachable, whatever it said. Timeouts, resets and
 * refused connections have no status.
 */
export function isAnswer(err: unknown): boolean {
  return statusCodeOf(err) !== undefined;
}

export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/** One line for a log: status and the API server's message, without the response dump. */
export function describeApiError(err: unknown): string {
  const code = statusCodeOf(err);
  if (code !== undefined) {
    const body = (err as { body?: unknown }).body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body.slice(0, 200);
      }
    } else if (typeof body === 'object' && body !== null) {
      message = (body as { message?: string }).message;
    }
    return `HTTP ${code}${message ? `: ${message}` : ''}`;
  }
  if (err instanceof Error) {
    // node-fetch reports our request deadline (request-deadline.ts) as the caller's abort.
    if (err.name === 'AbortError') return 'no answer before the request deadline';
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ? `${err.message} (${cause.code})` : err.message;
  }
  return String(err);
}
