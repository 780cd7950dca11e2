import { CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { formatProblem } from '../config/config-error.js';
import type { ConfigFormat } from '../config/convert/config-format.js';
import { formatWarning } from '../config/convert/conversion.js';
import { Allocator } from '../ipam/allocator.js';
import { describeApiError, isConflict, isNotFound } from '../k8s/api-error.js';
import { Backoff, sleep } from '../k8s/backoff.js';
import { EventRecorder, type EventTarget } from '../k8s/event-recorder.js';
import { ResilientInformer } from '../k8s/informer.js';
import { openConfigSource, type ConfigSource } from '../k8s/config-source.js';
import { chooseConfig } from '../config/effective-config.js';
import { CONFIG_IN_FORCE_NAME, describeRecord, readConfigInForce, sameRecord, writeConfigInForce, type ConfigInForce } from '../k8s/config-in-force.js';
import { HEARTBEAT_SECRET_NAME, ensureHeartbeatSecret } from '../k8s/heartbeat-secret.js';
import { writeServiceStatus } from '../k8s/service-status.js';
import { toServiceView, type ServiceView } from '../k8s/service-view.js';
import type { Logger } from '../observability/logger.js';
import type { ControllerMetrics } from '../observability/metrics.js';
import type { BarelbConfig } from '../config/types.js';
import { REASON } from '../names.js';
import { WarningMemory, outsidePoolsEvent, reconcileService, relearn, type ServiceEvent } from './reconcile.js';
import { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** Of the leader Lease and the heartbeat key Secret (and of the ConfigMap unless configNamespace says another). */
  readonly namespace: string;
  /** Where the ConfigMap (or MetalLB's objects) is read; defaults to `namespace`. */
  readonly configNamespace?: string;
  readonly configMap: string;
  /** How the ConfigMap is written: barelb's own, or MetalLB's or kube-vip's, converted on read; metallb-crds: no ConfigMap but MetalLB's objects. */
  readonly configFormat?: ConfigFormat;
  readonly lbClass: string;
  readonly identity: string;
  /** Services reconciled at once; allocation itself is serial, only API writes overlap. */
  readonly workers: number;
  readonly log: Logger;
  readonly metrics: ControllerMetrics;
  /** What this process has said, kept across its terms (see controllerVoice). */
  readonly voice: ControllerVoice;
}

/**
 * The Events a controller process has written and the Warnings it last gave each
 * Service. They outlive a leadership term: a leader that misses a renewal under
 * load and wins again re-decides every Service, and with a fresh memory would
 * write every waiting Service's Warning a second time instead of bumping it.
 */
export interface ControllerVoice {
  readonly events: EventRecorder;
  readonly warned: WarningMemory;
}

export function controllerVoice(kubeConfig: KubeConfig, identity: string, log: Logger): ControllerVoice {
  return { events: new EventRecorder(kubeConfig.makeApiClient(CoreV1Api), 'barelb-controller', identity, log.child({ part: 'events' })), warned: new WarningMemory() };
}

/**
 * The active controller: re-learns every assignment from the cluster, then
 * keeps Services' addresses in line with their requests and the pool config.
 * One instance runs per leadership term; all state but its voice is rebuilt each term.
 */
export class Controller {
  private readonly core: CoreV1Api;
  private readonly alloc = new Allocator();
  private readonly queue = new WorkQueue();
  private readonly pending = new Set<string>();
  private readonly retries = new Map<string, Backoff>();
  private readonly warned: WarningMemory;
  private readonly events: EventRecorder;
  private readonly log: Logger;
  private services!: ResilientInformer<V1Service>;
  private config!: ConfigSource;
  private configSource: string | undefined;
  private synced = false;
  private listening = false;
  private haveConfig = false;
  private configArrived: (() => void) | undefined;
  /** The config last accepted, as recorded in CONFIG_IN_FORCE_NAME: read at start, written on each acceptance. */
  private recorded: ConfigInForce | undefined;
  private recording: Promise<void> = Promise.resolve();
  private signal: AbortSignal | undefined;

  constructor(private readonly opts: ControllerOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = opts.log;
    this.events = opts.voice.events;
    this.warned = opts.voice.warned;
  }

  get ready(): boolean {
    return this.synced;
  }

  /** The speakers authenticate their heartbeats with a key only the cluster knows: made here, once, if missing. */
  private async ensureHeartbeatKey(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(500, 10_000);
    while (!signal.aborted) {
      try {
        if (await ensureHeartbeatSecret(this.core, this.opts.namespace)) {
          this.log.info({ secret: `${this.opts.namespace}/${HEARTBEAT_SECRET_NAME}` }, 'created the speakers\' heartbeat key');
        }
        return;
      } catch (err) {
        const wait = backoff.next();
        this.log.warn({ err: describeApiError(err), retryInMs: wait }, 'cannot make sure the heartbeat key exists; retrying');
        await sleep(wait, signal);
      }
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const { metrics } = this.opts;
    const apiError = (op: string) => () => metrics.apiErrors.inc({ operation: op });
    this.services = new ResilientInformer<V1Service>({
      name: 'services',
      kubeConfig: this.opts.kubeConfig,
      path: '/api/v1/services',
      list: () => this.core.listServiceForAllNamespaces(),
      log: this.log,
      onApiError: apiError('watch_services'),
    });
    // The ConfigMap, or MetalLB's objects (--config-format metallb-crds): one ConfigSource either way.
    this.config = openConfigSource({
      kubeConfig: this.opts.kubeConfig,
      namespace: this.opts.configNamespace ?? this.opts.namespace,
      configMap: this.opts.configMap,
      format: this.opts.configFormat ?? 'barelb',
      log: this.log,
      onApiError: (operation) => metrics.apiErrors.inc({ operation }),
    });
    const onService = (svc: V1Service): void => this.queue.add(toServiceView(svc).key);
    this.services.on('add', onService);
    this.services.on('update', onService);
    this.services.on('delete', onService);
    this.config.onChange(() => {
      if (this.listening) this.applyConfig();
    });

    const stop = (): void => {
      this.configArrived?.();
      this.queue.close();
      void this.services.stop();
      void this.config.stop();
    };
    signal.addEventListener('abort', stop, { once: true });
    try {
      // Nothing is decided before both caches hold a full list: a partial view
      // could hand out an address some unseen Service already has.
      await Promise.all([this.services.start(), this.config.start()]);
      if (signal.aborted) return;
      void this.ensureHeartbeatKey(signal);
      this.signal = signal;
      this.recorded = await this.readRecord(signal);
      if (signal.aborted) return;
      this.listening = true;
      this.applyConfig();
      if (!this.haveConfig) {
        // A fresh process has no last good config to fall back on: touch nothing until there is one.
        this.log.warn('waiting for a valid config; until then nothing is assigned and no Service is changed');
        await new Promise<void>((resolve) => (this.configArrived = resolve));
        if (signal.aborted) return;
      }
      this.relearn();
      this.synced = true;
      this.log.info({ services: this.services.list().length, pools: this.alloc.usage().length }, 'controller synced; assigning');
      await Promise.all(Array.from({ length: Math.max(1, this.opts.workers) }, () => this.work()));
    } finally {
      signal.removeEventListener('abort', stop);
      stop();
      this.synced = false;
      this.listening = false;
      await this.events.flush();
    }
  }

  /** The recorded config, if any; an unreadable record is logged and not used (the ConfigMap decides then). */
  private async readRecord(signal: AbortSignal): Promise<ConfigInForce | undefined> {
    const backoff = new Backoff(500, 5_000);
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await readConfigInForce(this.core, this.opts.namespace);
      } catch (err) {
        if (attempt === 3) {
          this.log.warn({ err: describeApiError(err) }, `cannot read ${this.opts.namespace}/${CONFIG_IN_FORCE_NAME}; going on without the recorded config`);
          return undefined;
        }
        await sleep(backoff.next(), signal);
      }
    }
    return undefined;
  }

  /** Records an accepted version for the next leader, speakers and `barelb status`; retried until written or superseded. */
  private recordInForce(record: ConfigInForce): void {
    if (sameRecord(this.recorded, record)) return;
    this.recorded = record;
    this.recording = this.recording.then(async () => {
      const backoff = new Backoff(500, 30_000);
      while (this.recorded === record && !this.signal?.aborted) {
        try {
          await writeConfigInForce(this.core, this.opts.namespace, record);
          this.log.debug({ configMap: `${this.opts.namespace}/${CONFIG_IN_FORCE_NAME}` }, 'recorded the config in force');
          return;
        } catch (err) {
          this.opts.metrics.apiErrors.inc({ operation: 'write_config_in_force' });
          const wait = backoff.next();
          this.log.warn({ err: describeApiError(err), retryInMs: wait }, `cannot record the config in force in ${this.opts.namespace}/${CONFIG_IN_FORCE_NAME}; retrying`);
          await sleep(wait, this.signal);
        }
      }
    });
  }

  /** Takes every address the cluster shows before any new one is handed out; the oldest Service wins a clash. */
  private relearn(): void {
    const { learned, conflicts, foreign } = relearn(this.alloc, this.services.list().map(toServiceView), this.opts.lbClass);
    for (const c of conflicts) this.log.warn({ service: c.key, err: c.error.message }, 'address shown in status is held by an older Service');
    // A later term says it again; the recorder bumps the count of the same Event.
    for (const f of foreign) this.emit(f.view, [f.event]);
    this.log.info({ learned, conflicts: conflicts.length }, 're-learned existing assignments');
    for (const svc of this.services.list()) this.queue.add(toServiceView(svc).key);
    this.updateGauges(true);
  }

  private applyConfig(): void {
    const { metrics } = this.opts;
    const cfg = this.config.current();
    const loaded = cfg.loaded;
    if (loaded.source === this.configSource) return;
    this.configSource = loaded.source;
    let accepted: { config: BarelbConfig; record: ConfigInForce | undefined };
    if (!loaded.ok) {
      const problems = loaded.error.problems;
      metrics.configValid.set(0);
      metrics.configRejections.inc();
      // A fresh process falls back on the version recorded by the last leader.
      const choice = chooseConfig(loaded, this.haveConfig, this.recorded);
      const kept =
        choice.use === 'recorded'
          ? `the last good config stays in force (recorded in ${this.opts.namespace}/${CONFIG_IN_FORCE_NAME}: ${describeRecord(choice.record)})`
          : choice.use === 'none'
            ? 'no good config yet: nothing is assigned or changed until one arrives'
            : 'the last good config stays in force';
      this.log.error(
        { ...cfg.logFields, problems: problems.map((p) => ({ path: p.path, pool: p.pool, value: p.value, message: p.message })) },
        `invalid config rejected; ${kept}`,
      );
      for (const { target, items } of cfg.attribute(problems)) {
        this.events.record(target, { type: 'Warning', reason: 'InvalidConfig', message: `rejected (${kept}): ${items.map(formatProblem).join('; ')}` });
      }
      if (choice.use !== 'recorded') return;
      accepted = { config: choice.config, record: undefined };
    } else {
      accepted = {
        config: loaded.config,
        record: { config: loaded.config, source: cfg.name, sourceVersion: cfg.version, format: this.opts.configFormat ?? 'barelb', acceptedAt: new Date() },
      };
    }
    if (loaded.ok && loaded.warnings.length > 0) {
      this.log.warn({ ...cfg.logFields, warnings: loaded.warnings.map(formatWarning) }, `${this.opts.configFormat} config converted with warnings`);
      for (const { target, items } of cfg.attribute(loaded.warnings)) {
        const warnings = items.map(formatWarning);
        this.events.record(target, { type: 'Warning', reason: REASON.conversionWarnings, message: `${this.opts.configFormat} config read with ${warnings.length} change(s) of meaning: ${warnings.join('; ')}` });
      }
    }
    this.haveConfig = true;
    this.configArrived?.();
    this.configArrived = undefined;
    const before = new Set(this.alloc.keysOutsidePools());
    const uncovered = this.alloc.setPools(accepted.config.pools);
    metrics.configValid.set(1);
    metrics.configLastReload.setToCurrentTime();
    this.log.info(
      { pools: accepted.config.pools.map((p) => ({ name: p.name, addresses: p.ranges.map(String) })) },
      !accepted.record ? 'config loaded from the last recorded good version' : (cfg.absent ?? 'config loaded'),
    );
    if (accepted.record) this.recordInForce(accepted.record);
    for (const target of accepted.record ? cfg.targets : []) {
      this.events.record(target, { type: 'Normal', reason: 'ConfigLoaded', message: `${accepted.config.pools.length} pool(s): ${accepted.config.pools.map((p) => p.name).join(', ') || 'none'}` });
    }
    for (const key of uncovered) {
      if (before.has(key)) continue;
      const a = this.alloc.assignmentOf(key);
      const view = this.viewOf(key);
      if (a && view) this.emit(view, [outsidePoolsEvent(a)]);
    }
    if (this.synced) for (const svc of this.services.list()) this.queue.add(toServiceView(svc).key);
    this.updateGauges(true);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.take();
      if (key === undefined) return;
      const end = this.opts.metrics.reconcileSeconds.startTimer();
      try {
        await this.reconcile(key);
      } catch (err) {
        this.log.error({ service: key, err }, 'reconcile failed');
        this.retryLater(key);
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  private async reconcile(key: string): Promise<void> {
    const view = this.viewOf(key);
    const outcome = reconcileService(this.alloc, key, view, this.opts.lbClass);
    if (view) this.emit(view, this.warned.filter(key, view.uid, outcome.events, Date.now()));
    else this.warned.forget(key);
    const { metrics } = this.opts;

    if (outcome.failure) {
      if (!this.pending.has(key)) metrics.allocationFailures.inc({ code: outcome.failure.code });
      this.pending.add(key);
    } else {
      this.pending.delete(key);
    }
    if (outcome.released) {
      metrics.allocations.inc({ result: 'released' });
      if (view) this.log.info({ service: key }, 'released');
      this.retryPending();
    }
    if (view && outcome.status !== undefined) {
      try {
        await writeServiceStatus(this.core, view, outcome.status, outcome.pool ?? null);
        this.retries.delete(key);
        if (outcome.assigned) {
          metrics.allocations.inc({ result: 'assigned' });
          this.log.info({ service: key, ips: outcome.status, pool: outcome.pool }, 'assigned');
        }
      } catch (err) {
        if (isNotFound(err)) {
          if (this.alloc.release(key)) this.retryPending();
        } else if (isConflict(err)) {
          // Our view was stale; the watch brings the new version, then we decide again.
          this.queue.addAfter(key, 100);
        } else {
          metrics.apiErrors.inc({ operation: 'write_status' });
          this.log.warn({ service: key, err: describeApiError(err) }, 'status write failed; retrying');
          this.retryLater(key);
        }
      }
    }
    this.updateGauges(outcome.released);
  }

  private retryLater(key: string): void {
    let b = this.retries.get(key);
    if (!b) this.retries.set(key, (b = new Backoff(200, 30_000)));
    this.queue.addAfter(key, b.next());
  }

  /** An address came free: Services waiting for one get another try. */
  private retryPending(): void {
    for (const key of this.pending) this.queue.add(key);
  }

  private viewOf(key: string): ServiceView | undefined {
    const slash = key.indexOf('/');
    const svc = this.services.get(key.slice(slash + 1), key.slice(0, slash));
    return svc ? toServiceView(svc) : undefined;
  }

  private emit(view: ServiceView, events: readonly ServiceEvent[]): void {
    const target: EventTarget = { kind: 'Service', namespace: view.namespace, name: view.name, uid: view.uid };
    for (const e of events) {
      this.events.record(target, e);
      if (e.type === 'Warning') this.log.warn({ service: view.key, reason: e.reason }, e.message);
    }
  }

  private updateGauges(full = false): void {
    const { metrics } = this.opts;
    for (const u of this.alloc.usage()) {
      metrics.poolSize.set({ pool: u.name }, Number(u.size));
      metrics.poolUsed.set({ pool: u.name }, Number(u.used));
    }
    metrics.pendingServices.set(this.pending.size);
    if (full) metrics.orphanedServices.set(this.alloc.keysOutsidePools().length);
  }
}
