import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { describeApiError, isNotFound } from './api-error.js';
import { sleep } from './backoff.js';
import { HEARTBEAT_KEY_REFRESH_MS, HEARTBEAT_SECRET_NAME, readHeartbeatKeys } from './heartbeat-secret.js';

/**
 * A speaker's view of the heartbeat key Secret: first() waits until it exists (the controller creates
 * it); follow() re-reads it every HEARTBEAT_KEY_REFRESH_MS and reports a changed key list. An unreadable
 * or deleted Secret keeps the keys in use.
 */
export class HeartbeatKeyWatch {
  private keys: readonly string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: Pick<CoreV1Api, 'readNamespacedSecret'>,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  /** The keys, signing key first; asked until the Secret has them. Undefined only when `signal` ends the wait. */
  async first(signal: AbortSignal): Promise<readonly string[] | undefined> {
    for (let wait = 500; !signal.aborted; wait = Math.min(wait * 2, 5000)) {
      try {
        const keys = await readHeartbeatKeys(this.core, this.namespace);
        if (keys) return (this.keys = keys);
        this.log.warn({ secret: `${this.namespace}/${HEARTBEAT_SECRET_NAME}`, retryInMs: wait }, 'no heartbeat key yet (the controller creates it); waiting');
      } catch (err) {
        this.log.warn({ err: describeApiError(err), retryInMs: wait }, 'cannot read the heartbeat key; retrying');
      }
      await sleep(wait, signal);
    }
    return undefined;
  }

  /** Calls `changed` with the new keys whenever a re-read finds them changed. */
  follow(changed: (keys: readonly string[]) => void): void {
    this.timer = setInterval(() => void this.refresh(changed), HEARTBEAT_KEY_REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async refresh(changed: (keys: readonly string[]) => void): Promise<void> {
    try {
      const keys = await readHeartbeatKeys(this.core, this.namespace);
      if (!keys || keys.join() === this.keys.join()) return;
      this.keys = keys;
      this.log.info({ keys: keys.length }, 'heartbeat key changed');
      changed(keys);
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ err: describeApiError(err) }, 'cannot re-read the heartbeat key; keeping the current one');
    }
  }
}
