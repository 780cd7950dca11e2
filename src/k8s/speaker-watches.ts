import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Endpoints, type V1Lease, type V1Node, type V1Service } from '@kubernetes/client-node';
import type { ObservedLease } from '../election/lease-liveness.js';
import { readSpeakerLease } from '../election/speaker-lease.js';
import type { ConfigFormat } from '../config/convert/config-format.js';
import type { Logger } from '../observability/logger.js';
import { describeApiError, isNotFound } from './api-error.js';
import { sleep } from './backoff.js';
import { openConfigSource, type ConfigSource } from './config-source.js';
import { ResilientInformer } from './informer.js';
import { nodeAddresses, nodeFactsOf, type NodeFacts } from './node-facts.js';
import { readyNodesFromEndpoints, readyNodesFromSlices } from './ready-nodes.js';

export interface SpeakerWatchesOptions {
  readonly kubeConfig: KubeConfig;
  /** Where the ConfigMap (or MetalLB's objects) is read. */
  readonly configNamespace: string;
  readonly configMap: string;
  readonly configFormat: ConfigFormat;
  /** Where the speakers' Leases are (every speaker's, read for lanView when heartbeats go unheard). */
  readonly leaseNamespace: string;
  readonly log: Logger;
}

/**
 * What a speaker reads from the API server, watched: Services, Nodes, ready endpoints (EndpointSlices
 * where discovery.k8s.io/v1 is served, 1.21+, else Endpoints: the v1.20 lab) and the config. The speaker
 * reads the lists on its tick; onChange only says something changed.
 */
export class SpeakerWatches {
  private constructor(
    readonly services: ResilientInformer<V1Service>,
    private readonly nodes: ResilientInformer<V1Node>,
    private readonly endpoints: ResilientInformer<object>,
    private readonly readyNodesOf: () => Map<string, Set<string>>,
    readonly config: ConfigSource,
    private readonly leases: ResilientInformer<V1Lease>,
  ) {}

  /** Builds the watches (asking the API server which endpoint API it serves: retried until it answers or `signal`). */
  static async open(opts: SpeakerWatchesOptions, signal: AbortSignal): Promise<SpeakerWatches> {
    const { kubeConfig, log } = opts;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const mk = <T extends { metadata?: { name?: string } }>(name: string, path: string, list: () => Promise<{ items: T[] }>) =>
      new ResilientInformer<T & { metadata?: object }>({ name, kubeConfig, path, list: list as never, log });
    const services = mk<V1Service>('services', '/api/v1/services', () => core.listServiceForAllNamespaces());
    const nodes = mk<V1Node>('nodes', '/api/v1/nodes', () => core.listNode());
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    let endpoints: ResilientInformer<object>;
    let readyNodesOf: () => Map<string, Set<string>>;
    if (await servesV1Slices(discovery, log, signal)) {
      const slices = mk<V1EndpointSlice>('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces());
      endpoints = slices as ResilientInformer<object>;
      readyNodesOf = () => readyNodesFromSlices(slices.list());
    } else {
      const eps = mk<V1Endpoints>('endpoints', '/api/v1/endpoints', () => core.listEndpointsForAllNamespaces());
      endpoints = eps as ResilientInformer<object>;
      readyNodesOf = () => readyNodesFromEndpoints(eps.list());
    }
    // The ConfigMap, or MetalLB's objects (--config-format metallb-crds): one ConfigSource either way.
    const config = openConfigSource({ kubeConfig, namespace: opts.configNamespace, configMap: opts.configMap, format: opts.configFormat, log });
    const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    const ns = opts.leaseNamespace;
    const leases = mk<V1Lease>('leases', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, () => coordination.listNamespacedLease({ namespace: ns }));
    return new SpeakerWatches(services, nodes, endpoints, readyNodesOf, config, leases);
  }

  /** Every informer event and every config change. */
  onChange(handler: () => void): void {
    this.config.onChange(handler);
    for (const inf of [this.services, this.nodes, this.endpoints, this.leases] as ResilientInformer<object>[]) {
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, handler);
    }
  }

  /** Resolves once every list is in; a stop() meanwhile (SIGTERM while the API server is away) ends it. */
  async start(): Promise<void> {
    await Promise.all(this.all().map((i) => i.start()));
  }

  async stop(): Promise<void> {
    for (const i of this.all()) await i.stop();
  }

  get reachable(): boolean {
    return this.services.reachable;
  }

  nodeFacts(): NodeFacts[] {
    return this.nodes.list().map(nodeFactsOf);
  }

  /** Every Node's addresses, canonical. */
  nodeAddresses(): string[] {
    return nodeAddresses(this.nodes.list());
  }

  /** The speakers' Leases, each with the resourceVersion that changes on every write. */
  speakerLeases(): ObservedLease[] {
    return this.leases.list().flatMap((l) => {
      const view = readSpeakerLease(l);
      return view ? [{ view, version: l.metadata?.resourceVersion ?? '' }] : [];
    });
  }

  /** Service key -> nodes with a ready endpoint. */
  readyNodes(): Map<string, Set<string>> {
    return this.readyNodesOf();
  }

  private all(): { start(): Promise<void>; stop(): Promise<void> }[] {
    return [this.services, this.nodes, this.endpoints, this.config, this.leases];
  }
}

/** Whether the API server serves discovery.k8s.io/v1 EndpointSlices; asked until it answers. */
async function servesV1Slices(api: DiscoveryV1Api, log: Logger, signal: AbortSignal): Promise<boolean> {
  for (let wait = 500; !signal.aborted; wait = Math.min(wait * 2, 5000)) {
    try {
      const res = await api.getAPIResources();
      return res.resources.some((r) => r.name === 'endpointslices');
    } catch (err) {
      if (isNotFound(err)) return false;
      log.warn({ err: describeApiError(err), retryInMs: wait }, 'cannot reach the API server; retrying');
      await sleep(wait, signal);
    }
  }
  return false;
}
