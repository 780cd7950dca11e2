import { Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { describeApiError, isAnswer, statusCodeOf } from './api-error.js';
import { Backoff, sleep } from './backoff.js';

type Handler<T> = (obj: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/services`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly log: Logger;
  /** The server ends each watch after about this long; a watch silent for longer than this plus a margin is presumed dead. */
  readonly watchTimeoutSeconds?: number;
  readonly onApiError?: () => void;
}

interface WatchEvent {
  readonly type: string;
  readonly object: KubernetesObject & { code?: number };
}

/**
 * List, then watch from the list's resourceVersion, forever. Our own instead of
 * client-node's informer, which stops on most errors and lets the late `done`
 * of an aborted watch kill the watch that replaced it. Here every watch has a
 * generation and callbacks of old generations are ignored; errors are retried
 * with backoff; "410 Gone" relists and diffs the cache, so deletes missed
 * while away still reach the handlers; a watch silent past its timeout is
 * replaced. start() resolves only once a full list is in: callers never act on
 * a partial view.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private readonly cache = new Map<string, T>();
  private readonly backoff = new Backoff(250, 5_000);
  private readonly watcher: Watch;
  private resourceVersion = '';
  private generation = 0;
  private current: AbortController | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private stopSignal = new AbortController();
  private listedOnce = false;
  private answering = false;

  constructor(private readonly opts: InformerOptions<T>) {
    this.watcher = new Watch(opts.kubeConfig);
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  /**
   * True while the API server answers: the last list or watch succeeded, or was refused with an HTTP status
   * (403, 429, 500 come from a live server; only timeouts and connection failures make it false).
   */
  get reachable(): boolean {
    return this.answering && !this.stopped;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.stopSignal = new AbortController();
    await this.relistUntilDone();
    if (!this.stopped) void this.watchLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.generation++;
    clearTimeout(this.silenceTimer);
    this.current?.abort();
  }

  private async relistUntilDone(): Promise<void> {
    while (!this.stopped) {
      try {
        const list = await this.opts.list();
        this.replace(list.items, list.metadata?.resourceVersion ?? '');
        this.answering = true;
        if (!this.listedOnce) this.opts.log.info({ informer: this.opts.name, objects: this.cache.size }, 'informer synced');
        this.listedOnce = true;
        this.backoff.reset();
        return;
      } catch (err) {
        this.answering = isAnswer(err);
        this.opts.onApiError?.();
        const wait = this.backoff.next();
        this.opts.log.warn({ informer: this.opts.name, err: describeApiError(err), retryInMs: wait }, 'cannot list from the API server; retrying');
        await sleep(wait, this.stopSignal.signal);
      }
    }
  }

  /** Installs a fresh list, telling handlers what changed since the cache was last right. */
  private replace(items: readonly T[], resourceVersion: string): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj);
    }
    for (const [key, obj] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', obj);
      }
    }
    this.resourceVersion = resourceVersion;
  }

  private async watchLoop(): Promise<void> {
    while (!this.stopped) {
      const result = await this.watchOnce();
      if (this.stopped) return;
      if (result === 'gone') {
        this.opts.log.info({ informer: this.opts.name }, 'watch position expired; relisting');
        await this.relistUntilDone();
      } else if (result === 'failed') {
        await sleep(this.backoff.next(), this.stopSignal.signal);
      }
    }
  }

  /** Runs one watch to its end: 'closed' (normal end), 'gone' (410: relist) or 'failed'. */
  private watchOnce(): Promise<'closed' | 'gone' | 'failed'> {
    const gen = ++this.generation;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 300;
    return new Promise((resolve) => {
      let outcome: 'closed' | 'gone' | 'failed' = 'closed';
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(this.silenceTimer);
        this.opts.log.debug({ informer: this.opts.name, gen, outcome, resourceVersion: this.resourceVersion }, 'watch ended');
        resolve(outcome);
      };
      const armSilenceTimer = (): void => {
        clearTimeout(this.silenceTimer);
        // Bookmarks and the server's own timeout keep a live watch talking; silence past both means a dead connection.
        this.silenceTimer = setTimeout(() => {
          if (gen !== this.generation) return;
          this.opts.log.warn({ informer: this.opts.name }, 'watch silent too long; reopening');
          this.current?.abort();
          finish();
        }, (timeoutSeconds + 30) * 1000);
        this.silenceTimer.unref();
      };
      armSilenceTimer();
      const onEvent = (type: string, obj: WatchEvent['object']): void => {
        if (gen !== this.generation || finished) return;
        armSilenceTimer();
        if (type !== 'ERROR') this.backoff.reset();
        switch (type) {
          case 'ADDED':
          case 'MODIFIED': {
            const key = keyOf(obj as T);
            const existed = this.cache.has(key);
            this.cache.set(key, obj as T);
            this.emit(existed ? 'update' : 'add', obj as T);
            break;
          }
          case 'DELETED': {
            const key = keyOf(obj as T);
            const old = this.cache.get(key);
            this.cache.delete(key);
            this.emit('delete', (old ?? obj) as T);
            break;
          }
          case 'ERROR':
            if (obj.code === 410) outcome = 'gone';
            else {
              outcome = 'failed';
              this.opts.log.warn({ informer: this.opts.name, status: obj }, 'watch returned an error');
            }
            // Decide before aborting: the abort reports back through onDone at once.
            finish();
            this.current?.abort();
            return;
          case 'BOOKMARK':
            break;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (err: unknown): void => {
        if (finished || gen !== this.generation || this.stopped) return finish();
        if (err) {
          if (statusCodeOf(err) === 410) {
            outcome = 'gone';
          } else {
            outcome = 'failed';
            this.answering = isAnswer(err);
            this.opts.onApiError?.();
            this.opts.log.warn({ informer: this.opts.name, err: describeApiError(err) }, 'watch failed; retrying');
          }
        }
        finish();
      };
      this.watcher
        .watch(
          this.opts.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          onDone,
        )
        .then((controller) => {
          if (gen === this.generation && !finished) {
            this.current = controller;
            this.answering = true;
          }
          else controller.abort();
        })
        .catch((err: unknown) => onDone(err ?? new Error('watch failed')));
    });
  }

  private emit(event: 'add' | 'update' | 'delete', obj: T): void {
    for (const h of this.handlers[event]) h(obj);
  }
}

function cacheKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function keyOf(obj: KubernetesObject): string {
  return cacheKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
}
