import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  CoordinationV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Endpoints, type V1Node, type V1Service,
} from '@kubernetes/client-node';
import { formatProblem } from '../config/config-error.js';
import type { ConfigFormat } from '../config/convert/config-format.js';
import { formatWarning } from '../config/convert/conversion.js';
import { DEFAULT_ANNOUNCE, type AnnounceSpec, type PoolSpec } from '../config/types.js';
import { REASON, handles } from '../names.js';
import type { Heartbeat } from '../election/heartbeat-frame.js';
import { chooseHolder, type Contender } from '../election/holder-choice.js';
import { Membership, type LivePeer } from '../election/membership.js';
import { describeApiError, isNotFound } from '../k8s/api-error.js';
import { sleep } from '../k8s/backoff.js';
import { EventRecorder } from '../k8s/event-recorder.js';
import { CONFIG_IN_FORCE_NAME, describeRecord, readConfigInForce, type ConfigInForce } from '../k8s/config-in-force.js';
import { HEARTBEAT_KEY_REFRESH_MS, HEARTBEAT_SECRET_NAME, readHeartbeatKeys } from '../k8s/heartbeat-secret.js';
import { ResilientInformer } from '../k8s/informer.js';
import { openConfigSource, type ConfigSource } from '../k8s/config-source.js';
import { toServiceView, type ServiceView } from '../k8s/service-view.js';
import { MacAddress } from '../net/arp-frame.js';
import { canonicalIp, familyOf, type IpFamily } from '../net/ip.js';
import type { NodePortForward } from '../net/nft-ruleset.js';
import { PacketSocket, interfaceInfo } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import { describeRefusal, parseRouteGateways, refusalOf, type AddressRefusal } from './address-guard.js';
import { ArpThread, type ArpInterface } from './arp-thread.js';
import { ineligibility, type IpNeeds, type IpUser, type NodeFacts } from './eligibility.js';
import { chooseInterface, type InterfaceChoice } from './interface-choice.js';
import { LastResult } from './last-result.js';
import { NodePortForwarder, removeLeftoverTable } from './nodeport-forwarder.js';
import { readyNodesFromEndpoints, readyNodesFromSlices } from './ready-nodes.js';
import { weight } from './rendezvous.js';
import { SpeakerLeaseWriter } from './speaker-lease-writer.js';

/** The LAN election's timers. */
export interface HeartbeatTimers {
  /** How often each speaker sends a heartbeat on each interface. */
  readonly intervalMs: number;
  /** A peer not heard for this long is dead. */
  readonly failureTimeoutMs: number;
}

export interface SpeakerOptions {
  readonly kubeConfig: KubeConfig;
  readonly node: string;
  /** Of the heartbeat key Secret (and of the ConfigMap unless configNamespace says another). */
  readonly namespace: string;
  /** Where the ConfigMap (or MetalLB's objects) is read; defaults to `namespace`. */
  readonly configNamespace?: string;
  /** Where this node's speaker Lease is written. */
  readonly leaseNamespace: string;
  readonly configMap: string;
  /** How the ConfigMap is written: barelb's own, or MetalLB's or kube-vip's, converted on read; metallb-crds: no ConfigMap but MetalLB's objects. */
  readonly configFormat?: ConfigFormat;
  readonly lbClass: string;
  /** `--interface`; empty: the config's announce.interfaces, else any. */
  readonly interfaces: readonly string[];
  readonly forward: 'kube-proxy' | 'nodeport';
  /** nodeport mode: the packet mark bit (default FORWARD_MARK). */
  readonly forwardMark?: number;
  readonly heartbeat: HeartbeatTimers;
  /** How often the speaker Lease is renewed when nothing changes. */
  readonly leaseRenewIntervalMs: number;
  readonly log: Logger;
  readonly metrics: SpeakerMetrics;
}

type Users = (IpUser & { view: ServiceView })[];

interface IpState {
  readonly ip: string;
  readonly family: IpFamily;
  responder: ArpInterface | undefined;
  announced: boolean;
  /** Rendezvous weights of nodes for this IP, computed once per node. */
  readonly weights: Map<string, bigint>;
  /** Keyed by Speaker.interfacesGeneration. */
  readonly iface: LastResult<number, InterfaceChoice | undefined>;
}

const TICK_MS = 25;
/** How often open interfaces are checked for lost links and recreation (a few ioctls each). */
const LINK_CHECK_MS = 200;
/** Changes to what this node announces reach its Lease at most this often. */
const LEASE_MIN_GAP_MS = 1000;
const API_DEADLINE_MS = 5000;
/** nodeport mode: rules that failed to install are tried again after 1 s, doubling up to 30 s. */
const FORWARD_RETRY_FIRST_MS = 1000;
const FORWARD_RETRY_MAX_MS = 30_000;
/** How long SIGTERM waits for queued Events before exiting anyway. */
const EVENT_FLUSH_MS = 2000;

/**
 * One node's speaker. Membership comes from the LAN: the ARP thread sends and hears authenticated
 * heartbeats; for each LoadBalancer IP in Service status every speaker computes the same holder from the
 * same view (chooseHolder), and this one answers ARP for the IPs it holds. Never allocates. The only API
 * writes are this node's own speaker Lease and Events.
 */
export class Speaker {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly events: EventRecorder;
  private readonly log: Logger;
  private readonly membership: Membership;
  private readonly incarnation = Date.now();
  private readonly states = new Map<string, IpState>();
  private readonly responders = new Map<string, ArpInterface>();
  /** The kernel index and MAC each open interface had when it was opened: a different one means it was recreated. */
  private readonly openLink = new Map<string, Link>();
  private linksCheckedAtMs = -Infinity;
  /** When each interface started hearing: a node takes no new address there before it heard a whole failure timeout. */
  private readonly listeningSince = new Map<string, number>();
  private arp!: ArpThread;
  private services!: ResilientInformer<V1Service>;
  private nodes!: ResilientInformer<V1Node>;
  private endpoints!: ResilientInformer<V1Endpoints> | ResilientInformer<V1EndpointSlice>;
  private readyNodesOf!: () => Map<string, Set<string>>;
  private config!: ConfigSource;
  private leaseWriter!: SpeakerLeaseWriter;
  private announce: AnnounceSpec = DEFAULT_ANNOUNCE;
  private pools: readonly PoolSpec[] = [];
  private configSource: string | undefined;
  private haveConfig = false;
  /** The controller's record of the config in force: what a speaker starting on an invalid ConfigMap runs on. */
  private recorded: ConfigInForce | undefined;
  private ready = false;
  private forwarder: NodePortForwarder | undefined;
  /** Set by every informer event; the next tick re-reads what changed. */
  private dirty = true;
  /** Set when anything a decision reads changed; the next tick decides every IP again. */
  private undecided = true;
  private lastMembershipVersion = -1;
  /** The nftables rules (nodeport mode) may no longer match what is announced. */
  private forwardsStale = true;
  /** nodeport mode: addresses whose rewrite the last applied table has, and addresses waiting for theirs. */
  private forwarded: ReadonlySet<string> = new Set();
  private readonly awaitingForward = new Set<string>();
  private forwarding = false;
  /**
   * nodeport mode: the rules could not be installed. Until a retry succeeds this node announces nothing and
   * its heartbeats say it is unfit, so peers leave it out of every choice.
   */
  private forwardFailure: { attempts: number; retryAtMs: number } | undefined;
  private wanted = new Map<string, Users>();
  private nodeFacts: NodeFacts[] = [];
  private osInterfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {};
  private interfacesReadAtMs = -Infinity;
  private interfacesJson = '';
  private gateways: ReadonlySet<string> = new Set();
  /** Bumped when the interfaces or the config's announce.interfaces change: per-IP interface choices are redone then. */
  private interfacesGeneration = 0;
  private apiReachable = true;
  /** The last write of this node's Lease was answered: a silently dropped connection shows here within its deadline. */
  private leaseAnswered = true;
  /** Addresses refused (address guard), with why: a Warning once per address and reason. */
  private refused = new Map<string, AddressRefusal>();
  /** After a stall: answering is suspended until then, and for one decision round after it this node yields. */
  private rejoinUntilMs = -Infinity;
  /** The next time a listening interface finishes listening: decide again then. */
  private nextListenEndMs = Infinity;

  constructor(private readonly opts: SpeakerOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.log = opts.log;
    this.events = new EventRecorder(this.core, 'barelb-speaker', opts.node, opts.log.child({ part: 'events' }));
    const { intervalMs, failureTimeoutMs } = opts.heartbeat;
    this.membership = new Membership(opts.node, { failureTimeoutMs, pauseThresholdMs: failureTimeoutMs - intervalMs });
  }

  get isReady(): boolean {
    return this.ready;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { kubeConfig, namespace, log } = this.opts;
    // Fail at start, before any API call, with a message that names the capability.
    PacketSocket.open('lo', () => undefined, () => undefined).close();
    this.arp = await ArpThread.start(
      {
        count: (ifname, key, n) => this.countArp(ifname, key, n),
        heartbeat: (ifname, hb) => this.onHeartbeat(ifname, hb),
        stalled: (gapMs) => this.onStalled(gapMs),
        socketLost: (ifname, why) => this.closeInterface(ifname, 'socket-lost', why),
      },
      log.child({ part: 'arp' }),
    );
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
    // The ConfigMap, or MetalLB's objects (--config-format metallb-crds): one ConfigSource either way.
    this.config = openConfigSource({ kubeConfig, namespace: this.opts.configNamespace ?? namespace, configMap: this.opts.configMap, format: this.opts.configFormat ?? 'barelb', log });
    this.config.onChange(() => (this.dirty = true));
    const watched = [this.services, this.nodes, this.endpoints] as ResilientInformer<object>[];
    for (const inf of watched) {
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, () => (this.dirty = true));
    }
    const informers = [...watched, this.config];
    if (this.opts.forward === 'nodeport') {
      this.forwarder = new NodePortForwarder(log.child({ part: 'nodeport' }), this.opts.forwardMark);
      await this.forwarder.apply([]); // fails early, and clearly, without CAP_NET_ADMIN; replaces what a killed speaker left
      this.opts.metrics.forwardingReady.set(1);
    } else {
      await removeLeftoverTable(log);
    }
    this.leaseWriter = new SpeakerLeaseWriter({
      api: this.coordination,
      namespace: this.opts.leaseNamespace,
      node: this.opts.node,
      incarnation: this.incarnation,
      renewIntervalMs: this.opts.leaseRenewIntervalMs,
      minGapMs: LEASE_MIN_GAP_MS,
      deadlineMs: API_DEADLINE_MS,
      log: log.child({ part: 'lease' }),
      onWrite: (result) => {
        this.opts.metrics.leaseWrites.inc({ result });
        this.leaseAnswered = result !== 'unreachable';
      },
    });

    // A SIGTERM while the API server is unreachable must not wait for it to come back.
    const stopListing = (): void => informers.forEach((i) => void i.stop());
    signal.addEventListener('abort', stopListing, { once: true });
    if (!signal.aborted) await Promise.all(informers.map((i) => i.start()));
    if (!signal.aborted) this.recorded = await this.readRecord();
    if (!signal.aborted) this.applyConfig();
    const keys = signal.aborted ? undefined : await this.waitForKeys(signal);
    signal.removeEventListener('abort', stopListing);
    if (signal.aborted || !keys) return this.shutdown(informers, false);
    this.startHeartbeats(keys);
    const keyTimer = setInterval(() => void this.refreshKeys(), HEARTBEAT_KEY_REFRESH_MS);
    this.leaseWriter.start();
    this.ready = true;
    log.info({ services: this.services.list().length, ...this.opts.heartbeat }, 'speaker synced; listening for peers before taking any address');

    const timer = setInterval(() => this.tick(), TICK_MS);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(timer);
    clearInterval(keyTimer);
    await this.shutdown(informers, true);
  }

  /**
   * Says it is leaving first, so peers take over at once; keeps answering for two heartbeat intervals
   * while they do; then stops answering and deletes its Lease.
   */
  private async shutdown(informers: readonly { stop(): Promise<void> }[], synced: boolean): Promise<void> {
    const announced = [...this.states.values()].filter((st) => st.announced).length;
    if (synced) {
      this.arp.setFlags({ leaving: true });
      if (announced > 0) await sleep(2 * this.opts.heartbeat.intervalMs);
    }
    for (const st of this.states.values()) this.withdraw(st);
    for (const r of this.responders.values()) r.stop();
    await this.arp?.close();
    await Promise.all([synced ? this.leaseWriter.stop() : undefined, this.forwarder?.remove()]);
    for (const i of informers) await i.stop();
    // Events still queued are worth a moment, not a shutdown that never ends against a struggling API server.
    await Promise.race([this.events.flush(), sleep(EVENT_FLUSH_MS)]);
    this.log.info({ handedOver: announced }, 'speaker stopped');
  }

  /** The heartbeat key from its Secret; asked until it exists (the controller creates it). */
  private async waitForKeys(signal: AbortSignal): Promise<string[] | undefined> {
    for (let wait = 500; !signal.aborted; wait = Math.min(wait * 2, 5000)) {
      try {
        const keys = await readHeartbeatKeys(this.core, this.opts.namespace);
        if (keys) return keys;
        this.log.warn({ secret: `${this.opts.namespace}/${HEARTBEAT_SECRET_NAME}`, retryInMs: wait }, 'no heartbeat key yet (the controller creates it); waiting');
      } catch (err) {
        this.log.warn({ err: describeApiError(err), retryInMs: wait }, 'cannot read the heartbeat key; retrying');
      }
      await sleep(wait, signal);
    }
    return undefined;
  }

  private heartbeatKeys: readonly string[] = [];

  private startHeartbeats(keys: readonly string[]): void {
    this.heartbeatKeys = keys;
    this.arp.heartbeat({ node: this.opts.node, incarnation: this.incarnation, ...this.opts.heartbeat, keys });
  }

  /** The controller's record of the config in force; undefined when there is none or it cannot be read (logged). */
  private async readRecord(): Promise<ConfigInForce | undefined> {
    try {
      return await readConfigInForce(this.core, this.opts.namespace);
    } catch (err) {
      this.log.warn({ err: describeApiError(err) }, `cannot read ${this.opts.namespace}/${CONFIG_IN_FORCE_NAME}; going on without the recorded config`);
      return undefined;
    }
  }

  /** A rotated key reaches the ARP thread within HEARTBEAT_KEY_REFRESH_MS; an unreadable Secret keeps the keys in use. */
  private async refreshKeys(): Promise<void> {
    try {
      const keys = await readHeartbeatKeys(this.core, this.opts.namespace);
      if (!keys || keys.join() === this.heartbeatKeys.join()) return;
      this.log.info({ keys: keys.length }, 'heartbeat key changed');
      this.startHeartbeats(keys);
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ err: describeApiError(err) }, 'cannot re-read the heartbeat key; keeping the current one');
    }
  }

  private onHeartbeat(ifname: string, hb: Heartbeat): void {
    this.membership.onHeartbeat(ifname, hb, performance.now());
    // A peer that says it is leaving is replaced at once, not on the next tick.
    if (hb.flags.leaving && this.membership.version !== this.lastMembershipVersion) this.tick();
  }

  /**
   * The ARP thread was stalled long enough for peers to give up on us, and has suspended answering. Listen
   * for a failure timeout (peers' heartbeats say whether they still hear us and what they took), keep only
   * what nobody else announces, then answer again: a stall that nobody noticed moves nothing, and one that
   * was noticed ends with no address taken back.
   */
  private onStalled(gapMs: number): void {
    const now = performance.now();
    this.opts.metrics.stalls.inc();
    this.log.warn({ gapMs: Math.round(gapMs) }, 'stalled long enough for peers to declare this node dead: not answering until it has heard them');
    this.rejoinUntilMs = now + this.opts.heartbeat.failureTimeoutMs + this.opts.heartbeat.intervalMs;
    for (const ifname of this.listeningSince.keys()) this.listeningSince.set(ifname, now);
    this.undecided = true;
  }

  private applyConfig(): void {
    const loaded = this.config.current().loaded;
    if (loaded.source === this.configSource) return;
    this.configSource = loaded.source;
    let config = loaded.ok ? loaded.config : undefined;
    if (!loaded.ok) {
      this.opts.metrics.configValid.set(0);
      const fallback = this.haveConfig ? undefined : this.recorded;
      const kept = this.haveConfig
        ? 'the last good config stays in force'
        : fallback
          ? `running on the last good config the controller recorded (${describeRecord(fallback)})`
          : 'no good config yet: nothing is announced until one arrives';
      this.log.error({ problems: loaded.error.problems.map(formatProblem) }, `invalid config rejected; ${kept}`);
      if (!fallback) return;
      config = fallback.config;
    } else if (loaded.warnings.length > 0) {
      this.log.warn({ warnings: loaded.warnings.map(formatWarning) }, `${this.opts.configFormat} config converted with warnings`);
    }
    if (!config) return;
    if (loaded.ok) this.opts.metrics.configValid.set(1);
    this.haveConfig = true;
    this.announce = config.announce;
    this.pools = config.pools;
    this.interfacesGeneration++;
    this.log.info({ announce: this.announce, pools: this.pools.map((p) => p.name) }, loaded.ok ? 'config loaded' : 'config loaded from the last recorded good version');
  }

  /**
   * Decides every IP again when anything a decision reads changed (informers, membership, interfaces,
   * a listening period that ended); a quiet tick costs next to nothing.
   */
  private tick(): void {
    const now = performance.now();
    this.membership.tick(now);
    if (this.dirty) {
      this.dirty = false;
      this.undecided = true;
      this.forwardsStale = true;
      this.applyConfig();
      this.nodeFacts = this.nodes.list().map(
        (n): NodeFacts => ({
          name: n.metadata?.name ?? '',
          labels: n.metadata?.labels ?? {},
          internalIps: (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
        }),
      );
      this.wanted = this.wantedIps();
      for (const ip of this.wanted.keys()) if (!this.states.has(ip)) this.states.set(ip, { ip, family: familyOf(ip), responder: undefined, announced: false, weights: new Map(), iface: new LastResult() });
    }
    if (now - this.interfacesReadAtMs > 1000) this.readInterfaces(now);
    if (now - this.linksCheckedAtMs >= LINK_CHECK_MS) this.checkLinks(now);
    const reachable = this.services.reachable && this.leaseAnswered;
    if (reachable !== this.apiReachable) {
      this.apiReachable = reachable;
      this.opts.metrics.apiReachable.set(reachable ? 1 : 0);
      this.arp.setFlags({ apiReachable: reachable });
      if (reachable) this.log.info('API server reachable again');
      else this.log.warn('API server unreachable: keeping what this node announces while its peers hear it; nothing new is learned');
    }
    if (this.membership.version !== this.lastMembershipVersion || now >= this.nextListenEndMs) this.undecided = true;
    if (!this.undecided) return;
    this.undecided = false;
    this.lastMembershipVersion = this.membership.version;
    this.decideAll(now);
  }

  private readInterfaces(now: number): void {
    this.interfacesReadAtMs = now;
    const fresh = os.networkInterfaces();
    const json = JSON.stringify(fresh);
    if (json !== this.interfacesJson) {
      this.osInterfaces = fresh;
      this.interfacesJson = json;
      this.interfacesGeneration++;
      this.undecided = true;
    }
    const gateways = readGateways();
    if ([...gateways].join() !== [...this.gateways].join()) {
      this.gateways = gateways;
      this.dirty = true;
    }
  }

  /**
   * An open interface that lost its link (down, no carrier) or was recreated is closed: what it announced
   * there is withdrawn at once, and when it is back it is opened again and listened on for a failure timeout
   * before anything is taken, as at start. Peers took its addresses meanwhile; they keep them.
   */
  private checkLinks(now: number): void {
    this.linksCheckedAtMs = now;
    for (const [ifname, was] of this.openLink) {
      const link = linkOf(ifname);
      if (!link) this.closeInterface(ifname, 'down', 'no link or no carrier');
      else if (!sameLink(link, was)) this.closeInterface(ifname, 'replaced', `recreated or readdressed (index ${was.index} -> ${link.index}, MAC ${was.mac} -> ${link.mac})`);
    }
  }

  private closeInterface(ifname: string, reason: 'down' | 'replaced' | 'socket-lost', detail: string): void {
    const responder = this.responders.get(ifname);
    if (!responder) return;
    let withdrawn = 0;
    for (const st of this.states.values()) {
      if (st.responder !== responder) continue;
      this.withdraw(st);
      withdrawn++;
    }
    responder.stop();
    this.responders.delete(ifname);
    this.openLink.delete(ifname);
    this.listeningSince.delete(ifname);
    this.interfacesGeneration++;
    this.interfacesReadAtMs = -Infinity; // choose interfaces again from a fresh read
    this.undecided = true;
    this.opts.metrics.interfacesClosed.inc({ interface: ifname, reason });
    this.log.warn({ interface: ifname, reason, detail, withdrawn }, 'interface closed; it is listened on again before it announces anything');
  }

  private decideAll(now: number): void {
    const self = this.opts.node;
    const failure = this.opts.heartbeat.failureTimeoutMs;
    const listenFor = failure + this.opts.heartbeat.intervalMs;
    const peersOn = new Map<string, LivePeer[]>();
    const links = new Map<string, Link | undefined>();
    this.nextListenEndMs = Infinity;
    const rejoining = Number.isFinite(this.rejoinUntilMs);
    const suspended = now < this.rejoinUntilMs;
    if (suspended) this.nextListenEndMs = this.rejoinUntilMs;
    const announced = { IPv4: 0, IPv6: 0 };
    for (const st of [...this.states.values()]) {
      const users = this.wanted.get(st.ip) ?? [];
      if (users.length === 0) {
        this.withdraw(st);
        this.states.delete(st.ip);
        continue;
      }
      const iface = st.iface.get(this.interfacesGeneration, () =>
        chooseInterface(st.ip, this.osInterfaces, this.opts.interfaces.length ? this.opts.interfaces : this.announce.interfaces),
      );
      const needs: IpNeeds = this.forwarder ? { nodeAddressFamily: st.family } : {};
      const eligible = new Set(this.nodeFacts.filter((n) => ineligibility(n, this.announce, users, needs) === undefined).map((n) => n.name));
      let ifaceUp = false;
      let mayTakeNew = false;
      let contenders: Contender[] = [];
      if (iface) {
        if (!links.has(iface.name)) links.set(iface.name, linkOf(iface.name));
        const link = links.get(iface.name);
        ifaceUp = link !== undefined && this.listenOn(iface, link, now);
        const since = this.listeningSince.get(iface.name) ?? now;
        mayTakeNew = now - since >= listenFor;
        if (!mayTakeNew) this.nextListenEndMs = Math.min(this.nextListenEndMs, since + listenFor);
        let peers = peersOn.get(iface.name);
        if (!peers) peersOn.set(iface.name, (peers = this.membership.livePeers(iface.name, now)));
        contenders = peers
          .filter((p) => eligible.has(p.node))
          .map((p) => ({ node: p.node, announces: p.claims.has(st.ip), hearsMe: p.hearsMe, rejoining: p.rejoining, claimsKnown: p.claimsKnown }));
      }
      const verdict = chooseHolder({
        self,
        selfEligible: ifaceUp && eligible.has(self) && !this.refused.has(st.ip) && !this.forwardFailure,
        selfAnnounces: st.announced,
        mayTakeNew,
        rejoining,
        contenders,
        weightOf: (node) => {
          let w = st.weights.get(node);
          if (w === undefined) st.weights.set(node, (w = weight(st.ip, node)));
          return w;
        },
      });
      try {
        // nodeport mode: the rewrite must be in place before the first ARP answer draws traffic here.
        if (verdict.announce && iface && this.forwarder && !st.announced && !this.forwarded.has(st.ip)) this.awaitingForward.add(st.ip);
        else if (verdict.announce && iface) this.startAnnouncing(st, iface, users, verdict.why);
        else if (!verdict.announce) this.withdraw(st);
      } catch (err) {
        this.log.error({ ip: st.ip, interface: iface?.name, err: (err as Error).message }, 'cannot announce');
      }
      if (st.announced) announced[st.family]++;
    }
    if (rejoining && !suspended) {
      // Heard every peer for a failure timeout since the stall: what is still held here is nobody else's.
      this.rejoinUntilMs = -Infinity;
      this.arp.resume();
      this.log.info({ kept: announced.IPv4 + announced.IPv6 }, 'answering again after the stall');
    }
    const { metrics } = this.opts;
    for (const family of ['IPv4', 'IPv6'] as const) metrics.announcing.set({ family }, announced[family]);
    const hears = new Set<string>();
    for (const [ifname, peers] of peersOn) {
      metrics.peersLive.set({ interface: ifname }, peers.length);
      for (const p of peers) hears.add(p.node);
    }
    this.leaseWriter.update([...this.states.values()].filter((s) => s.announced).map((s) => s.ip), [...hears]);
    this.syncForwards(now);
  }

  /**
   * nodeport mode: rewrites for what is announced and for what waits to be; when the table is in, the
   * waiting addresses are decided again and announced. Only when something changed; a failure (logged
   * inside) retries on the next tick.
   */
  private syncForwards(now: number): void {
    const forwarder = this.forwarder;
    if (!forwarder || this.forwarding || (!this.forwardsStale && this.awaitingForward.size === 0)) return;
    if (this.forwardFailure && now < this.forwardFailure.retryAtMs) return;
    this.forwardsStale = false;
    this.forwarding = true;
    const vips = new Set([...this.states.values()].filter((st) => st.announced).map((st) => st.ip));
    for (const ip of this.awaitingForward) vips.add(ip);
    this.awaitingForward.clear();
    forwarder.apply(this.forwards(vips)).then(
      () => {
        const fresh = [...vips].filter((ip) => !this.forwarded.has(ip));
        if (fresh.length > 0) this.log.debug({ vips: fresh }, 'nodeport rewrites in place; answering ARP for these may start');
        this.forwarded = vips;
        this.forwarding = false;
        this.undecided = true;
        if (this.forwardFailure) {
          this.forwardFailure = undefined;
          this.opts.metrics.forwardingReady.set(1);
          this.arp.setFlags({ unfit: false });
          this.log.info('nodeport rules installed again: this node may announce again (it takes nothing back)');
        }
      },
      (err: unknown) => {
        this.forwarding = false;
        this.forwardsStale = true;
        this.undecided = true;
        const attempts = (this.forwardFailure?.attempts ?? 0) + 1;
        const retryInMs = Math.min(FORWARD_RETRY_MAX_MS, FORWARD_RETRY_FIRST_MS * 2 ** (attempts - 1));
        this.forwardFailure = { attempts, retryAtMs: performance.now() + retryInMs };
        this.opts.metrics.forwardingReady.set(0);
        this.arp.setFlags({ unfit: true });
        this.log.error({ err: (err as Error).message, attempts, retryInMs }, 'nodeport rules cannot be installed: this node announces nothing until they can');
      },
    );
  }

  /** Opens the interface in the ARP thread (which starts the heartbeats there). False when it cannot be opened. */
  private listenOn(iface: InterfaceChoice, link: Link, now: number): boolean {
    const was = this.openLink.get(iface.name);
    if (this.responders.has(iface.name) && was && sameLink(link, was)) return true;
    this.closeInterface(iface.name, 'replaced', `recreated or readdressed (now index ${link.index}, MAC ${link.mac})`);
    try {
      this.responders.set(iface.name, this.arp.open(iface.name, MacAddress.parse(link.mac), this.announce.garpRefreshSeconds));
      this.openLink.set(iface.name, link);
      this.listeningSince.set(iface.name, now);
      this.log.info({ interface: iface.name }, 'listening for peers and answering ARP and NDP on this interface');
      return true;
    } catch (err) {
      this.log.error({ interface: iface.name, err: (err as Error).message }, 'cannot open the interface');
      return false;
    }
  }

  /** LoadBalancer IPs in status of Services this speaker handles, with the Services on each; refused ones are set aside. */
  private wantedIps(): Map<string, Users> {
    const readyNodes = this.readyNodesOf();
    const hostAddresses = new Set<string>();
    for (const n of this.nodes.list()) for (const a of n.status?.addresses ?? []) hostAddresses.add(canonicalIp(a.address) ?? a.address);
    for (const addrs of Object.values(this.osInterfaces)) for (const a of addrs ?? []) hostAddresses.add(canonicalIp(a.address) ?? a.address);
    const facts = { pools: this.pools, hostAddresses, gateways: this.gateways };
    const out = new Map<string, Users>();
    const refused = new Map<string, AddressRefusal>();
    for (const svc of this.services.list()) {
      const view = toServiceView(svc);
      if (!handles(view, this.opts.lbClass)) continue;
      for (const raw of view.ingressIps) {
        const ip = canonicalIp(raw);
        if (!ip) continue;
        const list = out.get(ip) ?? [];
        list.push({ key: view.key, externalTrafficPolicy: view.externalTrafficPolicy, readyNodes: readyNodes.get(view.key) ?? new Set(), view });
        out.set(ip, list);
        const why = refusalOf(ip, facts);
        if (why) refused.set(ip, why);
      }
    }
    for (const [ip, why] of refused) {
      if (this.refused.get(ip) === why) continue;
      this.log.warn({ ip, reason: why }, `refusing to announce ${ip}: it ${describeRefusal(why)}`);
      for (const u of out.get(ip) ?? []) {
        this.events.record(
          { kind: 'Service', namespace: u.view.namespace, name: u.view.name, uid: u.view.uid },
          { type: 'Warning', reason: REASON.refused, message: `node ${this.opts.node} does not announce ${ip}: it ${describeRefusal(why)}` },
        );
      }
    }
    this.refused = refused;
    const byReason = new Map<AddressRefusal, number>([['outside-pools', 0], ['node-address', 0], ['gateway', 0]]);
    for (const why of refused.values()) byReason.set(why, (byReason.get(why) ?? 0) + 1);
    for (const [reason, n] of byReason) this.opts.metrics.addressesRefused.set({ reason }, n);
    return out;
  }

  private startAnnouncing(st: IpState, iface: InterfaceChoice, users: Users, why: 'keeps' | 'takes'): void {
    if (st.announced && st.responder?.ifname === iface.name) return;
    if (st.announced) this.withdraw(st);
    const responder = this.responders.get(iface.name);
    if (!responder) return;
    responder.announce(st.ip);
    st.responder = responder;
    st.announced = true;
    this.forwardsStale = true;
    if (why === 'takes') this.opts.metrics.takeovers.inc();
    this.log.info({ ip: st.ip, interface: iface.name }, 'announcing');
    for (const u of users) {
      this.events.record(
        { kind: 'Service', namespace: u.view.namespace, name: u.view.name, uid: u.view.uid },
        { type: 'Normal', reason: REASON.announcing, message: `node ${this.opts.node} announces ${st.ip} on ${iface.name}` },
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
    else if (kind === 'ndp-answer') m.ndpAnswered.inc({ ...labels, kind: 'solicited' }, n);
    else if (kind === 'ndp-defend') m.ndpAnswered.inc({ ...labels, kind: 'dad' }, n);
    else if (kind === 'ndp-conflict') m.ndpConflicts.inc(labels, n);
    else if (kind === 'ndp-unsolicited') m.unsolicitedNaSent.inc(labels, n);
    else if (kind === 'ndp-ignore') m.ndpIgnored.inc({ ...labels, reason }, n);
    else if (kind === 'ndp-drop') m.ndpDropped.inc({ ...labels, reason }, n);
    else if (kind === 'hb-sent') m.heartbeatsSent.inc(labels, n);
    else if (kind === 'hb-send-failed') m.heartbeatsSendFailed.inc(labels, n);
    else if (kind === 'hb-received') m.heartbeatsReceived.inc(labels, n);
    else if (kind === 'hb-drop') m.heartbeatsDropped.inc({ ...labels, reason }, n);
  }

  private withdraw(st: IpState): void {
    if (!st.announced) return;
    st.responder?.withdraw(st.ip);
    st.announced = false;
    st.responder = undefined;
    this.forwardsStale = true;
    this.log.info({ ip: st.ip }, 'stopped announcing');
  }

  /** The nodeport rewrites for `vips`, each to this node's InternalIP of the VIP's family (none: no rule). */
  private forwards(vips: ReadonlySet<string>): NodePortForward[] {
    const internal = this.nodeFacts.find((n) => n.name === this.opts.node)?.internalIps ?? [];
    const out: NodePortForward[] = [];
    for (const vip of vips) {
      const family = familyOf(vip);
      const nodeIp = internal.find((a) => familyOf(a) === family);
      if (!nodeIp) continue;
      for (const u of this.wanted.get(vip) ?? []) {
        const svc = this.services.get(u.view.name, u.view.namespace);
        for (const p of svc?.spec?.ports ?? []) {
          if (!p.nodePort) continue;
          out.push({ vip, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp', port: p.port, nodeIp, nodePort: p.nodePort });
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

interface Link {
  readonly index: number;
  /** The kernel's MAC now (os.networkInterfaces() is read once a second and may still show the old one). */
  readonly mac: string;
}

/** The same kernel interface with the same MAC: else it was recreated or readdressed, and is opened anew. */
function sameLink(a: Link, b: Link): boolean {
  return a.index === b.index && a.mac === b.mac;
}

/** The interface when it can carry traffic (present, up, with carrier); undefined otherwise. */
function linkOf(ifname: string): Link | undefined {
  try {
    const info = interfaceInfo(ifname);
    return info.up && info.carrier ? { index: info.index, mac: MacAddress.fromBytes(info.mac).toString() } : undefined;
  } catch {
    return undefined;
  }
}

/** This host's route gateways; none when the route tables cannot be read. */
function readGateways(): Set<string> {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return parseRouteGateways(read('/proc/net/route'), read('/proc/net/ipv6_route'));
}
