import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  CoordinationV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1ConfigMap, type V1Endpoints, type V1Lease, type V1Node, type V1Service,
} from '@kubernetes/client-node';
import { formatProblem } from '../config/config-error.js';
import type { ConfigFormat } from '../config/convert/config-format.js';
import { formatWarning } from '../config/convert/conversion.js';
import { DEFAULT_ANNOUNCE, type AnnounceSpec } from '../config/types.js';
import { loadConfig } from '../controller/config-loader.js';
import { handles } from '../controller/service-request.js';
import { describeApiError, isConflict, isNotFound } from '../k8s/api-error.js';
import { sleep } from '../k8s/backoff.js';
import { EventRecorder } from '../k8s/event-recorder.js';
import { ResilientInformer } from '../k8s/informer.js';
import { LeaseClient, leaseSnapshot, type LeaseSnapshot } from '../k8s/lease-client.js';
import { toServiceView, type ServiceView } from '../k8s/service-view.js';
import { MacAddress } from '../net/arp-frame.js';
import { canonicalIp } from '../net/ip.js';
import { PacketSocket, interfaceInfo } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import { ArpThread, type ArpInterface } from './arp-thread.js';
import { ineligibility, leaseNameFor, type IpUser, type NodeFacts } from './eligibility.js';
import { IpElection, type ElectionConfig } from './election-state.js';
import { chooseInterface, type InterfaceChoice } from './interface-choice.js';
import { IpStates } from './ip-states.js';
import { LastResult } from './last-result.js';
import { NodePortForwarder } from './nodeport-forwarder.js';
import { readyNodesFromEndpoints, readyNodesFromSlices } from './ready-nodes.js';
import { rankCandidates } from './rendezvous.js';
import { WriteSlots } from './write-slots.js';

// Giving an IP back lets another node take it at once; keeping one comes before taking a new one.
const WRITE_PRIORITY = { release: 0, renew: 1, acquire: 2 } as const;

export interface SpeakerOptions {
  readonly kubeConfig: KubeConfig;
  readonly node: string;
  readonly namespace: string;
  readonly configMap: string;
  /** How the ConfigMap is written: barelb's own, or MetalLB's or kube-vip's, converted on read. */
  readonly configFormat?: ConfigFormat;
  readonly lbClass: string;
  /** `--interface`; empty: the config's announce.interfaces, else any. */
  readonly interfaces: readonly string[];
  readonly forward: 'kube-proxy' | 'nodeport';
  readonly election: ElectionConfig;
  /** Lease writes in flight at most (`--lease-writes-in-flight`). */
  readonly leaseWritesInFlight: number;
  readonly log: Logger;
  readonly metrics: SpeakerMetrics;
}

interface IpState {
  readonly ip: string;
  readonly election: IpElection;
  readonly lease: LeaseClient;
  /** Our last successful write, for compare-and-swap renewals. */
  written: LeaseSnapshot | undefined;
  busy: boolean;
  wakeAtMs: number;
  responder: ArpInterface | undefined;
  announced: boolean;
  /** The last holder the Lease named; a holder that released it is not ranked for the next turn. */
  lastHolder: string | undefined;
  /** Keyed by the ranked node names. */
  readonly ranking: LastResult<string, string[]>;
  /** Keyed by Speaker.interfacesGeneration. */
  readonly iface: LastResult<number, InterfaceChoice | undefined>;
}

const TICK_MS = 50;

/**
 * One node's speaker: for every LoadBalancer IP in Service status, runs the
 * IP's election over its Lease and, while this node holds it, answers ARP for
 * it. Never allocates. Decisions come from the pure IpElection; this class
 * only feeds it and carries out what it says.
 */
export class Speaker {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly events: EventRecorder;
  private readonly log: Logger;
  private readonly states = new IpStates<IpState>((st) => st.lease.name);
  private readonly writeSlots: WriteSlots;
  private readonly responders = new Map<string, ArpInterface>();
  private arp!: ArpThread;
  private services!: ResilientInformer<V1Service>;
  private nodes!: ResilientInformer<V1Node>;
  private endpoints!: ResilientInformer<V1Endpoints> | ResilientInformer<V1EndpointSlice>;
  private readyNodesOf!: () => Map<string, Set<string>>;
  private leases!: ResilientInformer<V1Lease>;
  private configMaps!: ResilientInformer<V1ConfigMap>;
  private announce: AnnounceSpec = DEFAULT_ANNOUNCE;
  private configSource: string | undefined;
  private terminating = false;
  private ready = false;
  private forwarder: NodePortForwarder | undefined;
  /** Set by every informer event; the next tick re-reads what changed. */
  private dirty = true;
  /** The nftables rules (nodeport mode) may no longer match what is announced. */
  private forwardsStale = true;
  private wanted = new Map<string, (IpUser & { view: ServiceView })[]>();
  private nodeFacts: NodeFacts[] = [];
  private osInterfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {};
  private interfacesReadAtMs = -Infinity;
  private interfacesJson = '';
  /** Bumped when the interfaces or the config's announce.interfaces change: per-IP interface choices are redone then. */
  private interfacesGeneration = 0;
  private wasReachable = true;

  constructor(private readonly opts: SpeakerOptions) {
    this.writeSlots = new WriteSlots(opts.leaseWritesInFlight, 3);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.log = opts.log;
    this.events = new EventRecorder(this.core, 'barelb-speaker', opts.node, opts.log.child({ part: 'events' }));
  }

  get isReady(): boolean {
    return this.ready;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { kubeConfig, namespace, log } = this.opts;
    // Fail at start, before any API call, with a message that names the capability.
    PacketSocket.open('lo', () => undefined, () => undefined).close();
    this.arp = await ArpThread.start((ifname, key, n) => this.countArp(ifname, key, n), log.child({ part: 'arp' }));
    const mk = <T extends { metadata?: { name?: string } }>(name: string, path: string, list: () => Promise<{ items: T[] }>) =>
      new ResilientInformer<T & { metadata?: object }>({ name, kubeConfig, path, list: list as never, log });
    this.services = mk<V1Service>('services', '/api/v1/services', () => this.core.listServiceForAllNamespaces());
    this.nodes = mk<V1Node>('nodes', '/api/v1/nodes', () => this.core.listNode());
    // EndpointSlices where discovery.k8s.io/v1 is served (1.21+), else Endpoints (the v1.20 lab).
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    if (await servesV1Slices(discovery, log, signal)) {
      const slices = mk<V1EndpointSlice>('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces());
      this.endpoints = slices;
      this.readyNodesOf = () => readyNodesFromSlices(slices.list());
    } else {
      const eps = mk<V1Endpoints>('endpoints', '/api/v1/endpoints', () => this.core.listEndpointsForAllNamespaces());
      this.endpoints = eps;
      this.readyNodesOf = () => readyNodesFromEndpoints(eps.list());
    }
    this.leases = mk<V1Lease>('leases', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, () =>
      this.coordination.listNamespacedLease({ namespace }),
    );
    this.configMaps = mk<V1ConfigMap>('configmaps', `/api/v1/namespaces/${namespace}/configmaps`, () => this.core.listNamespacedConfigMap({ namespace }));
    const informers = [this.services, this.nodes, this.endpoints, this.leases, this.configMaps];
    for (const inf of [this.services, this.nodes, this.endpoints, this.configMaps] as ResilientInformer<object>[]) {
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, () => (this.dirty = true));
    }
    for (const ev of ['add', 'update', 'delete'] as const) {
      this.leases.on(ev, (lease) => {
        const st = this.states.ofLease(lease.metadata?.name ?? '');
        if (st) st.wakeAtMs = 0;
      });
    }
    if (this.opts.forward === 'nodeport') {
      this.forwarder = new NodePortForwarder(log.child({ part: 'nodeport' }));
      await this.forwarder.apply([]); // fails early, and clearly, without CAP_NET_ADMIN
    }

    // A SIGTERM while the API server is unreachable must not wait for it to come back.
    const stopListing = (): void => informers.forEach((i) => void i.stop());
    signal.addEventListener('abort', stopListing, { once: true });
    if (!signal.aborted) await Promise.all(informers.map((i) => i.start()));
    signal.removeEventListener('abort', stopListing);
    if (signal.aborted) return this.shutdown(informers);
    this.applyConfig();
    this.ready = true;
    log.info({ services: this.services.list().length }, 'speaker synced; electing');

    const timer = setInterval(() => this.tick(), TICK_MS);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(timer);
    await this.shutdown(informers);
  }

  /** Stop answering first, then give every Lease back, so another node takes over at once. */
  private async shutdown(informers: readonly { stop(): Promise<void> }[]): Promise<void> {
    this.terminating = true;
    for (const st of this.states.values()) this.withdraw(st);
    for (const r of this.responders.values()) r.stop();
    await this.arp?.close();
    const held = [...this.states.values()].filter((st) => st.written?.record.holder === this.opts.node);
    await Promise.all(
      held.map(async (st) => {
        try {
          await withTimeout(st.lease.write(st.written as LeaseSnapshot, undefined, 1), 2000);
          this.opts.metrics.leaseWrites.inc({ kind: 'release', result: 'ok' });
        } catch (err) {
          this.log.warn({ ip: st.ip, err: describeApiError(err) }, 'could not release the Lease; it will expire');
        }
      }),
    );
    await this.forwarder?.remove();
    for (const i of informers) await i.stop();
    await this.events.flush();
    this.log.info({ released: held.length }, 'speaker stopped');
  }

  private applyConfig(): void {
    const cm = this.configMaps.get(this.opts.configMap, this.opts.namespace);
    const loaded = loadConfig(cm, this.opts.configFormat);
    if (loaded.source === this.configSource) return;
    this.configSource = loaded.source;
    if (!loaded.ok) {
      this.opts.metrics.configValid.set(0);
      this.log.error({ problems: loaded.error.problems.map(formatProblem) }, 'invalid config rejected; the last good config stays in force');
      return;
    }
    if (loaded.warnings.length > 0) this.log.warn({ warnings: loaded.warnings.map(formatWarning) }, `${this.opts.configFormat} config converted with warnings`);
    this.opts.metrics.configValid.set(1);
    this.announce = loaded.config.announce;
    this.interfacesGeneration++;
    this.log.info({ announce: this.announce }, 'config loaded');
  }

  /**
   * Re-decides the IPs that are due. What the informers say is re-read only
   * after they changed, so a quiet tick costs next to nothing: ARP answers
   * share this event loop and must not wait behind it.
   */
  private tick(): void {
    const now = performance.now();
    if (this.dirty) {
      this.dirty = false;
      this.forwardsStale = true;
      this.applyConfig();
      this.wanted = this.wantedIps();
      this.nodeFacts = this.nodes.list().map((n): NodeFacts => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} }));
      for (const ip of this.wanted.keys()) if (!this.states.has(ip)) this.states.set(this.newState(ip));
      for (const st of this.states.values()) st.wakeAtMs = 0;
    }
    if (now - this.interfacesReadAtMs > 1000) {
      const fresh = os.networkInterfaces();
      const json = JSON.stringify(fresh);
      if (json !== this.interfacesJson) {
        this.osInterfaces = fresh;
        this.interfacesJson = json;
        this.interfacesGeneration++;
      }
      this.interfacesReadAtMs = now;
    }
    const wanted = this.wanted;
    const apiReachable = this.leases.connected;
    if (apiReachable !== this.wasReachable) {
      this.wasReachable = apiReachable;
      for (const st of this.states.values()) st.wakeAtMs = 0;
    }
    let held = 0;
    let announced = 0;
    for (const st of [...this.states.values()]) {
      if (!st.busy && now < st.wakeAtMs) {
        if (st.announced) announced++;
        if (st.election.holds) held++;
        continue;
      }
      const users = wanted.get(st.ip) ?? [];
      const eligibleNodes = this.nodeFacts.filter((n) => ineligibility(n, this.announce, users) === undefined).map((n) => n.name);
      const iface = st.iface.get(this.interfacesGeneration, () =>
        chooseInterface(st.ip, this.osInterfaces, this.opts.interfaces.length ? this.opts.interfaces : this.announce.interfaces),
      );
      const ifaceUp = iface !== undefined && safeUp(iface.name);
      const eligible = !this.terminating && users.length > 0 && ifaceUp && eligibleNodes.includes(this.opts.node);
      // Decided also while a write is out: announcing must stop on time even if a renew hangs.
      const lease = this.leaseRecord(st);
      if (lease?.holder) st.lastHolder = lease.holder;
      // A released Lease: the node that let go is leaving, so the next in line goes at once.
      const ranked = lease && !lease.holder && st.lastHolder !== this.opts.node ? eligibleNodes.filter((n) => n !== st.lastHolder) : eligibleNodes;
      const d = st.election.decide({
        lease,
        apiReachable,
        eligible,
        candidates: st.ranking.get(ranked.join('\u0000'), () => rankCandidates(st.ip, ranked)),
        nowMs: now,
      });
      try {
        if (d.announce && iface) this.startAnnouncing(st, iface.name, iface.mac, users);
        else if (!d.announce) this.withdraw(st);
      } catch (err) {
        this.log.error({ ip: st.ip, interface: iface?.name, err: (err as Error).message }, 'cannot announce');
      }
      if (d.action.kind === 'wait') st.wakeAtMs = Math.min(d.action.untilMs, d.announceUntilMs, now + 500);
      else if (!st.busy) void this.write(st, d.action.kind);
      if (st.announced) announced++;
      if (st.election.holds) held++;
      // Forget an IP nobody uses once its Lease is no longer ours.
      if (users.length === 0 && !st.election.holds && !st.busy && !st.announced && this.leaseRecord(st)?.holder !== this.opts.node) {
        this.states.delete(st.ip);
      }
    }
    this.opts.metrics.leasesHeld.set(held);
    this.opts.metrics.announcing.set(announced);
    // Only when what is announced, or the Services behind it, changed; a failure (logged inside) retries next tick.
    if (this.forwarder && this.forwardsStale) {
      this.forwardsStale = false;
      this.forwarder.apply(this.forwards(wanted)).catch(() => (this.forwardsStale = true));
    }
  }

  /** IPv4 LoadBalancer IPs in status of Services this speaker handles, with the Services on each. */
  private wantedIps(): Map<string, (IpUser & { view: ServiceView })[]> {
    const readyNodes = this.readyNodesOf();
    const out = new Map<string, (IpUser & { view: ServiceView })[]>();
    for (const svc of this.services.list()) {
      const view = toServiceView(svc);
      if (!handles(view, this.opts.lbClass)) continue;
      for (const raw of view.ingressIps) {
        const ip = canonicalIp(raw);
        if (!ip || ip.includes(':')) continue; // IPv6 waits for NDP support
        const list = out.get(ip) ?? [];
        list.push({ key: view.key, externalTrafficPolicy: view.externalTrafficPolicy, readyNodes: readyNodes.get(view.key) ?? new Set(), view });
        out.set(ip, list);
      }
    }
    return out;
  }

  private newState(ip: string): IpState {
    return {
      ip,
      election: new IpElection(this.opts.node, this.opts.election),
      lease: new LeaseClient(this.coordination, this.opts.namespace, leaseNameFor(ip)),
      written: undefined,
      busy: false,
      wakeAtMs: 0,
      responder: undefined,
      announced: false,
      lastHolder: undefined,
      ranking: new LastResult(),
      iface: new LastResult(),
    };
  }

  private leaseRecord(st: IpState) {
    const raw = this.leases.get(st.lease.name, this.opts.namespace);
    return raw ? leaseSnapshot(raw).record : undefined;
  }

  private async write(st: IpState, kind: 'acquire' | 'renew' | 'release'): Promise<void> {
    st.busy = true;
    const { metrics } = this.opts;
    const seconds = Math.ceil(this.opts.election.leaseDurationMs / 1000);
    const decidedOn = this.leases.get(st.lease.name, this.opts.namespace)?.metadata?.resourceVersion;
    metrics.leaseWritesWaiting.inc();
    const giveBack = await this.writeSlots.acquire(WRITE_PRIORITY[kind]);
    metrics.leaseWritesWaiting.dec();
    try {
      const cached = this.leases.get(st.lease.name, this.opts.namespace);
      // Taking or giving back was decided on a Lease that has changed while the write waited for a
      // slot: the compare-and-swap would be against the new version, so decide again instead.
      if (kind !== 'renew' && cached?.metadata?.resourceVersion !== decidedOn) {
        metrics.leaseWrites.inc({ kind, result: 'stale' });
        st.election.onDropped();
        return;
      }
      const base = kind === 'renew' && st.written ? st.written : cached ? leaseSnapshot(cached) : undefined;
      if (kind === 'release') {
        if (base) st.written = await st.lease.write(base, undefined, 1);
        st.election.onReleased(performance.now());
      } else {
        st.written = base ? await st.lease.write(base, this.opts.node, seconds) : await st.lease.create(this.opts.node, seconds);
        if (kind === 'acquire') {
          st.election.onAcquired(performance.now());
          metrics.electionsWon.inc();
        } else {
          st.election.onRenewed(performance.now());
        }
      }
      metrics.leaseWrites.inc({ kind, result: 'ok' });
    } catch (err) {
      if (isConflict(err)) {
        metrics.leaseWrites.inc({ kind, result: 'conflict' });
        metrics.electionsLost.inc();
        st.election.onConflict(performance.now());
        this.withdraw(st);
      } else if (kind === 'release' && isNotFound(err)) {
        st.election.onReleased(performance.now());
      } else {
        metrics.leaseWrites.inc({ kind, result: 'error' });
        this.log.warn({ ip: st.ip, kind, err: describeApiError(err) }, 'lease write failed');
        st.election.onWriteFailed(performance.now());
      }
    } finally {
      giveBack();
      st.busy = false;
      st.wakeAtMs = 0;
    }
  }

  private startAnnouncing(st: IpState, ifname: string, mac: string, users: readonly (IpUser & { view: ServiceView })[]): void {
    if (st.announced && st.responder?.ifname === ifname) return;
    if (st.announced) this.withdraw(st);
    let responder = this.responders.get(ifname);
    if (!responder) {
      const macAddress = MacAddress.tryParse(mac) ?? MacAddress.fromBytes(interfaceInfo(ifname).mac);
      responder = this.arp.open(ifname, macAddress, this.announce.garpRefreshSeconds);
      this.responders.set(ifname, responder);
    }
    responder.announce(st.ip);
    st.responder = responder;
    st.announced = true;
    this.forwardsStale = true;
    this.log.info({ ip: st.ip, interface: ifname }, 'announcing');
    for (const u of users) {
      this.events.record(
        { kind: 'Service', namespace: u.view.namespace, name: u.view.name, uid: u.view.uid },
        { type: 'Normal', reason: 'AnnouncingIP', message: `node ${this.opts.node} announces ${st.ip} on ${ifname}` },
      );
    }
  }

  /** The ARP thread's counters (keys: see ArpReport) into this process's metrics. */
  private countArp(ifname: string, key: string, n: number): void {
    const m = this.opts.metrics;
    const [kind, reason = ''] = key.split(':');
    const labels = { interface: ifname };
    if (kind === 'answer') m.arpAnswered.inc(labels, n);
    else if (kind === 'conflict') m.arpConflicts.inc(labels, n);
    else if (kind === 'garp') m.garpSent.inc(labels, n);
    else if (kind === 'ignore') m.arpIgnored.inc({ ...labels, reason }, n);
    else if (kind === 'drop') m.arpDropped.inc({ ...labels, reason }, n);
  }

  private withdraw(st: IpState): void {
    if (!st.announced) return;
    st.responder?.withdraw(st.ip);
    st.announced = false;
    this.forwardsStale = true;
    this.log.info({ ip: st.ip }, 'stopped announcing');
  }

  private forwards(wanted: Map<string, (IpUser & { view: ServiceView })[]>) {
    const me = this.nodes.get(this.opts.node);
    const nodeIp = me?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!nodeIp) return [];
    const out: { vip: string; protocol: 'tcp' | 'udp' | 'sctp'; port: number; nodeIp: string; nodePort: number }[] = [];
    for (const st of this.states.values()) {
      if (!st.announced) continue;
      for (const u of wanted.get(st.ip) ?? []) {
        const svc = this.services.get(u.view.name, u.view.namespace);
        for (const p of svc?.spec?.ports ?? []) {
          if (!p.nodePort) continue;
          out.push({ vip: st.ip, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp', port: p.port, nodeIp, nodePort: p.nodePort });
        }
      }
    }
    return out;
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

function safeUp(ifname: string): boolean {
  try {
    return interfaceInfo(ifname).up;
  } catch {
    return false;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
