import type { Logger } from '../observability/logger.js';

/** An AbortSignal that fires on the first SIGTERM or SIGINT, saying so in the log. */
export function shutdownSignal(log: Logger): AbortSignal {
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log.info({ signal: sig }, 'shutting down');
      stop.abort();
    });
  }
  return stop.signal;
}
