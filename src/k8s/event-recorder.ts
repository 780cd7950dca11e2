import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import type { ObjectRef } from '../object-ref.js';
import { describeApiError } from './api-error.js';

/** What an Event is about. */
export type EventTarget = ObjectRef;

export interface EventNote {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

interface Recent {
  name: string;
  /** Settles when the Event exists (or failed to be created). */
  created: Promise<void>;
  count: number;
  firstMs: number;
  lastMs: number;
}

const REPEAT_WINDOW_MS = 10 * 60_000;
// Events trail status writes: they share the API server, and the address matters more.
const MAX_IN_FLIGHT = 2;
const MAX_QUEUED = 2_000;

/**
 * Writes core/v1 Events (what `kubectl describe` shows). A repeat of the same
 * note on the same object within ten minutes bumps the count of the existing
 * Event instead of adding one. Writes are queued and never block the caller;
 * a failed write is logged and dropped.
 */
export class EventRecorder {
  private readonly recent = new Map<string, Recent>();
  private readonly queue: (() => Promise<void>)[] = [];
  private inFlight = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly core: CoreV1Api,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  record(target: EventTarget, note: EventNote): void {
    const now = Date.now();
    const id = `${target.uid}\u0000${note.reason}\u0000${note.message}`;
    const seen = this.recent.get(id);
    if (seen && now - seen.lastMs < REPEAT_WINDOW_MS) {
      seen.count++;
      seen.lastMs = now;
      const { name, count, created } = seen;
      this.enqueue(() => created.then(() => this.bump(target.namespace, name, count, now)));
      return;
    }
    if (this.recent.size > 10_000) this.prune(now);
    const name = `${target.name}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`.slice(0, 253);
    let settle!: () => void;
    const created = new Promise<void>((resolve) => (settle = resolve));
    this.recent.set(id, { name, created, count: 1, firstMs: now, lastMs: now });
    this.enqueue(() => this.create(target, note, name, now).finally(settle));
  }

  /** Resolves when every queued write has been tried. */
  async flush(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private enqueue(write: () => Promise<void>): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.log.warn('event queue full; dropping an event');
      return;
    }
    this.queue.push(write);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const write = this.queue.shift() as () => Promise<void>;
      this.inFlight++;
      write()
        .catch((err: unknown) => this.log.warn({ err: describeApiError(err) }, 'could not write event'))
        .finally(() => {
          this.inFlight--;
          this.pump();
          if (this.inFlight === 0 && this.queue.length === 0) this.idle.splice(0).forEach((r) => r());
        });
    }
  }

  private async create(target: EventTarget, note: EventNote, name: string, now: number): Promise<void> {
    const at = new Date(now);
    await this.core.createNamespacedEvent({
      namespace: target.namespace,
      body: {
        metadata: { name, namespace: target.namespace },
        involvedObject: {
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          uid: target.uid,
          apiVersion: target.apiVersion ?? 'v1',
        },
        type: note.type,
        reason: note.reason,
        message: note.message.slice(0, 1024),
        source: { component: this.component, host: this.instance },
        reportingComponent: this.component,
        reportingInstance: this.instance,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
    });
  }

  private async bump(namespace: string, name: string, count: number, now: number): Promise<void> {
    await this.core.patchNamespacedEvent(
      { name, namespace, body: { count, lastTimestamp: new Date(now).toISOString() } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private prune(now: number): void {
    for (const [id, r] of this.recent) if (now - r.lastMs >= REPEAT_WINDOW_MS) this.recent.delete(id);
  }
}
