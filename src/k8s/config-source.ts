import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { configMapView, type ConfigView } from '../config/config-view.js';
import type { ConfigFormat, ConfigMapFormat } from '../config/convert/config-format.js';
import { METALLB_KINDS, describeUnavailable, metallbObjectsView, pluralOf, type MetallbObject, type MetallbUnavailable } from '../config/metallb-objects-view.js';
import type { Logger } from '../observability/logger.js';
import { describeApiError } from './api-error.js';
import { Backoff, sleep } from './backoff.js';
import { ResilientInformer } from './informer.js';
import { listMetallbObjects, metallbWatchPath, unavailableOf } from './metallb-objects.js';

/**
 * Where the pool config comes from, watched: the controller and the speakers read it through this alone,
 * whatever `--config-format` says. current() is the config as last read, with what reporting on it needs.
 */
export interface ConfigSource {
  /** Resolves once the config has been read in full, or is known not to be readable (MetalLB's CRD missing or forbidden). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Called whenever what the config is read from changed (the config itself may not have). */
  onChange(handler: () => void): void;
  current(): ConfigView;
}

export interface ConfigSourceOptions {
  readonly kubeConfig: KubeConfig;
  /** --config-namespace. */
  readonly namespace: string;
  /** --config-map (not read with metallb-crds). */
  readonly configMap: string;
  readonly format: ConfigFormat;
  readonly log: Logger;
  /** A list or watch failed; `operation` labels barelb_api_errors_total. */
  readonly onApiError?: (operation: string) => void;
  /** metallb-crds: the longest wait between checks for CRDs that were missing or forbidden (default 30 s). */
  readonly recheckMaxMs?: number;
}

/** The ConfigMap in --config-namespace, or with `metallb-crds` MetalLB's objects there. */
export function openConfigSource(opts: ConfigSourceOptions): ConfigSource {
  return opts.format === 'metallb-crds' ? new MetallbObjectsSource(opts) : new ConfigMapSource(opts, opts.format);
}

/** One ConfigMap, watched through the ConfigMaps of its namespace. */
class ConfigMapSource implements ConfigSource {
  private readonly informer: ResilientInformer<V1ConfigMap>;
  private readonly handlers: (() => void)[] = [];
  private view: ConfigView | undefined;

  constructor(
    private readonly opts: ConfigSourceOptions,
    private readonly format: ConfigMapFormat,
  ) {
    const core = opts.kubeConfig.makeApiClient(CoreV1Api);
    const { namespace } = opts;
    this.informer = new ResilientInformer<V1ConfigMap>({
      name: 'configmaps',
      kubeConfig: opts.kubeConfig,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => core.listNamespacedConfigMap({ namespace }),
      log: opts.log,
      onApiError: () => opts.onApiError?.('watch_configmaps'),
    });
    const changed = (cm: V1ConfigMap): void => {
      if (cm.metadata?.name !== opts.configMap) return;
      this.view = undefined;
      for (const h of this.handlers) h();
    };
    for (const ev of ['add', 'update', 'delete'] as const) this.informer.on(ev, changed);
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  onChange(handler: () => void): void {
    this.handlers.push(handler);
  }

  current(): ConfigView {
    const { namespace, configMap } = this.opts;
    return (this.view ??= configMapView(this.informer.get(configMap, namespace), this.format, namespace, configMap));
  }
}

/**
 * Every IPAddressPool and L2Advertisement in the namespace, each kind listed and watched. First it checks
 * that both kinds can be read: when one is not served (MetalLB's CRD is not installed) or is forbidden, it
 * says so, the config counts as invalid, and it checks again every so often (backing off to recheckMaxMs)
 * until they can, then reads them. Never a crash, never a silently empty config.
 */
class MetallbObjectsSource implements ConfigSource {
  private readonly api: CustomObjectsApi;
  private readonly informers: ResilientInformer<MetallbObject>[];
  private readonly handlers: (() => void)[] = [];
  private unavailable: MetallbUnavailable | undefined;
  private view: ConfigView | undefined;
  private stopSignal = new AbortController();

  constructor(private readonly opts: ConfigSourceOptions) {
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const { namespace } = opts;
    this.informers = METALLB_KINDS.map(({ kind, plural }) => {
      const informer = new ResilientInformer<MetallbObject>({
        name: `${plural}.metallb.io`,
        kubeConfig: opts.kubeConfig,
        path: metallbWatchPath(namespace, plural),
        list: () => listMetallbObjects(this.api, namespace, kind),
        log: opts.log,
        onApiError: () => opts.onApiError?.('watch_metallb_objects'),
      });
      for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, () => this.changed());
      return informer;
    });
  }

  async start(): Promise<void> {
    this.stopSignal = new AbortController();
    const signal = this.stopSignal.signal;
    const backoff = new Backoff(250, 5_000);
    while (!signal.aborted) {
      const found = await this.check();
      if (signal.aborted) return;
      if (found === 'readable') return this.watch();
      if (found !== 'no-answer') {
        this.setUnavailable(found);
        void this.recheck(signal);
        return;
      }
      await sleep(backoff.next(), signal);
    }
  }

  async stop(): Promise<void> {
    this.stopSignal.abort();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  onChange(handler: () => void): void {
    this.handlers.push(handler);
  }

  current(): ConfigView {
    // Each informer holds one kind: say it on every object, whatever a watch event carried.
    const objects = this.unavailable ? [] : METALLB_KINDS.flatMap(({ kind }, i) => (this.informers[i]?.list() ?? []).map((o) => (o.kind === kind ? o : { ...o, kind })));
    return (this.view ??= metallbObjectsView(this.opts.namespace, objects, this.unavailable));
  }

  /** Whether both kinds can be listed: one small list each. */
  private async check(): Promise<'readable' | 'no-answer' | MetallbUnavailable> {
    for (const { kind } of METALLB_KINDS) {
      try {
        await listMetallbObjects(this.api, this.opts.namespace, kind, 1);
      } catch (err) {
        const unavailable = unavailableOf(err, kind);
        if (unavailable) return unavailable;
        this.opts.onApiError?.('watch_metallb_objects');
        this.opts.log.warn({ informer: `${pluralOf(kind)}.metallb.io`, err: describeApiError(err) }, 'cannot list from the API server; retrying');
        return 'no-answer';
      }
    }
    return 'readable';
  }

  /** While a kind cannot be read: check again, backing off, until it can. */
  private async recheck(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(1_000, this.opts.recheckMaxMs ?? 30_000);
    while (!signal.aborted) {
      await sleep(backoff.next(), signal);
      if (signal.aborted) return;
      const found = await this.check();
      if (signal.aborted) return;
      if (found === 'readable') {
        this.opts.log.info({ metallbObjects: this.opts.namespace }, "MetalLB's IPAddressPools and L2Advertisements can be read now; reading them");
        return this.watch();
      }
      if (found !== 'no-answer') this.setUnavailable(found);
    }
  }

  /** Lists and watches both kinds; the config is theirs once both lists are in. */
  private async watch(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
    if (this.stopSignal.signal.aborted) return;
    this.unavailable = undefined;
    this.changed();
  }

  private setUnavailable(u: MetallbUnavailable): void {
    if (this.unavailable?.kind === u.kind && this.unavailable.status === u.status) return;
    this.unavailable = u;
    this.opts.log.error({ metallbObjects: this.opts.namespace, status: u.status }, describeUnavailable(u, this.opts.namespace));
    this.changed();
  }

  private changed(): void {
    this.view = undefined;
    for (const h of this.handlers) h();
  }
}
