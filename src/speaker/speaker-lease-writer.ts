import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { speakerLeaseAnnotations, speakerLeaseName, type SpeakerLeaseRecord } from '../election/speaker-lease.js';
import { describeApiError, isAnswer, isConflict, isNotFound } from '../k8s/api-error.js';
import { withDeadline } from '../k8s/deadline.js';
import type { Logger } from '../observability/logger.js';

export interface SpeakerLeaseWriterOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly node: string;
  readonly incarnation: number;
  /** Renewed this often when nothing changes. */
  readonly renewIntervalMs: number;
  /** Changes go out at most this often. */
  readonly minGapMs: number;
  readonly deadlineMs: number;
  readonly log: Logger;
  /**
   * Each write's outcome, for metrics and the "API reachable" flag: refused is an HTTP error status (the
   * server is up and said no: 403, 409, 429, 500), unreachable is no answer at all (deadline, connection).
   */
  readonly onWrite: (result: LeaseWriteResult) => void;
}

export type LeaseWriteResult = 'ok' | 'refused' | 'unreachable';

/**
 * This node's speaker Lease: renewed every renewIntervalMs and rewritten (at most every minGapMs) when what
 * the node announces or hears changes. The only API writes the election makes, so they grow with nodes,
 * not IPs. Nothing waits on them: who announces is decided on the LAN.
 */
export class SpeakerLeaseWriter {
  readonly name: string;
  private last: V1Lease | undefined;
  private written = '';
  private wanted = '';
  private record: SpeakerLeaseRecord = { announces: [], hears: [] };
  private lastWriteMs = -Infinity;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: SpeakerLeaseWriterOptions) {
    this.name = speakerLeaseName(opts.node);
  }

  start(): void {
    this.schedule(0);
  }

  /** What to publish; written within minGapMs when it differs from what was written. */
  update(record: SpeakerLeaseRecord): void {
    const key = JSON.stringify(speakerLeaseAnnotations(record, this.opts.incarnation));
    if (key === this.wanted) return;
    this.wanted = key;
    this.record = record;
    if (!this.writing) this.schedule(Math.max(0, this.lastWriteMs + this.opts.minGapMs - performance.now()));
  }

  /** Stops renewing and deletes the Lease, so an uninstall or a node's removal leaves nothing behind. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    try {
      await withDeadline(this.opts.api.deleteNamespacedLease({ name: this.name, namespace: this.opts.namespace }), this.opts.deadlineMs, `delete Lease ${this.name}`);
    } catch (err) {
      if (!isNotFound(err)) this.opts.log.warn({ lease: this.name, err: describeApiError(err) }, 'could not delete the speaker Lease; it expires');
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.write(), ms);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    if (this.stopped) return;
    this.writing = true;
    const key = this.wanted;
    let ok = false;
    try {
      this.last = await this.put();
      this.written = key;
      ok = true;
      this.opts.onWrite('ok');
    } catch (err) {
      if (isConflict(err)) this.last = undefined; // read it again next time
      this.opts.onWrite(isAnswer(err) ? 'refused' : 'unreachable');
      this.opts.log.warn({ lease: this.name, err: describeApiError(err) }, 'could not write the speaker Lease; retrying');
    } finally {
      this.writing = false;
      this.lastWriteMs = performance.now();
    }
    const changed = this.wanted !== this.written;
    this.schedule(!ok ? this.opts.minGapMs : changed ? this.opts.minGapMs : this.opts.renewIntervalMs);
  }

  private async put(): Promise<V1Lease> {
    const { api, namespace, node, deadlineMs } = this.opts;
    const now = new V1MicroTime();
    const seconds = Math.ceil((this.opts.renewIntervalMs * 3) / 1000);
    const metadata = {
      name: this.name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'barelb', 'app.kubernetes.io/component': 'speaker' },
      annotations: speakerLeaseAnnotations(this.record, this.opts.incarnation),
    };
    const spec = { holderIdentity: node, leaseDurationSeconds: seconds, renewTime: now };
    if (!this.last) {
      try {
        this.last = await withDeadline(api.readNamespacedLease({ name: this.name, namespace }), deadlineMs, `get Lease ${this.name}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return withDeadline(
          api.createNamespacedLease({ namespace, body: { metadata, spec: { ...spec, acquireTime: now, leaseTransitions: 0 } } }),
          deadlineMs,
          `create Lease ${this.name}`,
        );
      }
    }
    const prev = this.last;
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...metadata, resourceVersion: prev.metadata?.resourceVersion },
      spec: { ...spec, acquireTime: prev.spec?.acquireTime ? new V1MicroTime(new Date(prev.spec.acquireTime as unknown as string).getTime()) : now, leaseTransitions: prev.spec?.leaseTransitions ?? 0 },
    };
    return withDeadline(api.replaceNamespacedLease({ name: this.name, namespace, body }), deadlineMs, `update Lease ${this.name}`);
  }
}
