import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { describeApiError, isAbort } from './api-error.js';
import { Backoff, sleep } from './backoff.js';

type Handler<T> = (obj: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/services`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly log: Logger;
  /** Re-open the watch this often, against watches that hang half-open. */
  readonly rewatchMs?: number;
  readonly onApiError?: () => void;
}

/**
 * client-node's informer, made to survive: it stops on most errors, so we
 * restart it with backoff; start() resolves only once a full list has been
 * seen, so callers never act on a partial view; and the watch is re-opened
 * periodically because a half-open connection would otherwise go silent.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly inner;
  private readonly handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private readonly backoff = new Backoff(500, 30_000);
  private abort = new AbortController();
  private running = false;
  private restarting = false;
  private startError: unknown;
  private inStart = false;
  private rewatchTimer: NodeJS.Timeout | undefined;
  private everSynced = false;

  constructor(private readonly opts: InformerOptions<T>) {
    this.inner = makeInformer<T>(opts.kubeConfig, opts.path, opts.list);
    this.inner.on('add', (o) => this.handlers.add.forEach((h) => h(o)));
    this.inner.on('update', (o) => this.handlers.update.forEach((h) => h(o)));
    this.inner.on('delete', (o) => this.handlers.delete.forEach((h) => h(o)));
    this.inner.on('error', (err: unknown) => this.onError(err));
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  get synced(): boolean {
    return this.everSynced;
  }

  list(): readonly T[] {
    return this.inner.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  /** Resolves once the first full list is in (retrying as long as it takes), or when stopped. */
  async start(): Promise<void> {
    this.running = true;
    this.abort = new AbortController();
    await this.startUntilListed();
    const every = this.opts.rewatchMs ?? 300_000;
    this.rewatchTimer = setInterval(() => void this.restart('periodic re-watch'), every);
    this.rewatchTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    clearInterval(this.rewatchTimer);
    await this.inner.stop();
  }

  private async startUntilListed(): Promise<void> {
    while (this.running) {
      this.startError = undefined;
      this.inStart = true;
      try {
        await this.inner.start();
      } catch (err) {
        this.startError ??= err;
      } finally {
        this.inStart = false;
      }
      if (this.startError === undefined) {
        if (!this.everSynced) this.opts.log.info({ informer: this.opts.name, objects: this.inner.list().length }, 'informer synced');
        this.everSynced = true;
        this.backoff.reset();
        return;
      }
      this.opts.onApiError?.();
      const wait = this.backoff.next();
      this.opts.log.warn(
        { informer: this.opts.name, err: describeApiError(this.startError), retryInMs: wait },
        'cannot list from the API server; retrying',
      );
      await this.inner.stop();
      await sleep(wait, this.abort.signal);
    }
  }

  private onError(err: unknown): void {
    if (!this.running || this.restarting || isAbort(err)) return;
    if (this.inStart) {
      this.startError = err;
      return;
    }
    this.opts.onApiError?.();
    this.opts.log.warn({ informer: this.opts.name, err: describeApiError(err) }, 'watch failed; restarting');
    void this.restart('watch error');
  }

  private async restart(reason: string): Promise<void> {
    if (!this.running || this.restarting) return;
    this.restarting = true;
    try {
      this.opts.log.debug({ informer: this.opts.name, reason }, 're-opening watch');
      await this.inner.stop();
      if (reason === 'watch error') await sleep(this.backoff.next(), this.abort.signal);
    } finally {
      this.restarting = false;
    }
    await this.startUntilListed();
  }
}
