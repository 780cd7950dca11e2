import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { ConfigFormat } from '../config/convert/config-format.js';
import { Membership, hearsMeGraceFor } from '../election/membership.js';
import { sleep } from '../k8s/backoff.js';
import { EventRecorder } from '../k8s/event-recorder.js';
import { HeartbeatKeyWatch } from '../k8s/heartbeat-key-watch.js';
import { SpeakerWatches } from '../k8s/speaker-watches.js';
import { PacketSocket } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import { Announcer } from './announcer.js';
import { ArpThread } from './arp-thread.js';
import { HostNetwork } from './host-network.js';
import { NodePortForwarder, removeLeftoverTable } from './nodeport-forwarder.js';
import { NodePortSync } from './nodeport-sync.js';
import { RefusalReporter } from './refusal-reporter.js';
import { SpeakerConfig } from './speaker-config.js';
import { SpeakerLeaseWriter } from './speaker-lease-writer.js';
import { SigningKeys } from './signing-keys.js';
import { SpeakerLoop } from './speaker-loop.js';

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
  /** After starting, free addresses wait this long at most for the other eligible Nodes' speakers to be heard (default 30 s; 0: not at all). */
  readonly settleMs?: number;
  /** How often the speaker Lease is renewed when nothing changes. */
  readonly leaseRenewIntervalMs: number;
  readonly log: Logger;
  readonly metrics: SpeakerMetrics;
}

const TICK_MS = 25;
/** --settle-time's default: DaemonSet pods start seconds apart. */
export const DEFAULT_SETTLE_MS = 30_000;
/** Changes to what this node announces reach its Lease at most this often. */
const LEASE_MIN_GAP_MS = 1000;
const API_DEADLINE_MS = 5000;
/** How long SIGTERM waits for queued Events before exiting anyway. */
const EVENT_FLUSH_MS = 2000;

/**
 * One node's speaker, wired: the L2 thread (ARP, NDP, heartbeats), the watches, the heartbeat key, the
 * speaker Lease, nodeport rules, and the loop that decides (SpeakerLoop). Never allocates. The only API
 * writes are this node's own speaker Lease and Events.
 */
export class Speaker {
  private ready = false;

  constructor(private readonly opts: SpeakerOptions) {}

  get isReady(): boolean {
    return this.ready;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { opts } = this;
    const { kubeConfig, namespace, log, metrics } = opts;
    // Fail at start, before any API call, with a message that names the capability.
    PacketSocket.open('lo', () => undefined, () => undefined).close();
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const events = new EventRecorder(core, 'barelb-speaker', opts.node, log.child({ part: 'events' }));
    const incarnation = Date.now();
    // The loop is built last, once the API is synced; the L2 thread reports only about interfaces the loop
    // opened, and the other parts call back only on what it started, so nothing is missed before it exists.
    const late: { loop?: SpeakerLoop } = {};
    let nodeport: NodePortSync | undefined;
    const l2 = await ArpThread.start(
      {
        count: (ifname, key, n) => countArp(metrics, ifname, key, n),
        heartbeat: (ifname, hb) => late.loop?.onHeartbeat(ifname, hb),
        stalled: (gapMs, cause) => late.loop?.onStalled(gapMs, cause),
        socketLost: (ifname, why) => announcer.close(ifname, 'socket-lost', why),
      },
      log.child({ part: 'arp' }),
    );
    const announcer = new Announcer(l2, log, metrics, {
      changed: () => nodeport?.markStale(),
      closed: () => late.loop?.redecide(true),
    });
    const watches = await SpeakerWatches.open(
      { kubeConfig, configNamespace: opts.configNamespace ?? namespace, configMap: opts.configMap, configFormat: opts.configFormat ?? 'barelb', leaseNamespace: opts.leaseNamespace, log },
      signal,
    );
    if (opts.forward === 'nodeport') {
      const forwarder = new NodePortForwarder(log.child({ part: 'nodeport' }), opts.forwardMark);
      await forwarder.apply([]); // fails early, and clearly, without CAP_NET_ADMIN; replaces what a killed speaker left
      metrics.forwardingReady.set(1);
      nodeport = new NodePortSync(forwarder, log, metrics, {
        settled: () => late.loop?.redecide(),
        unfit: (unfit) => l2.setFlags({ unfit }),
      });
    } else {
      await removeLeftoverTable(log);
    }
    const leaseWriter = new SpeakerLeaseWriter({
      api: kubeConfig.makeApiClient(CoordinationV1Api),
      namespace: opts.leaseNamespace,
      node: opts.node,
      incarnation,
      renewIntervalMs: opts.leaseRenewIntervalMs,
      minGapMs: LEASE_MIN_GAP_MS,
      deadlineMs: API_DEADLINE_MS,
      log: log.child({ part: 'lease' }),
      onWrite: (result) => {
        metrics.leaseWrites.inc({ result });
        late.loop?.leaseWritten(result !== 'unreachable');
      },
    });
    const config = new SpeakerConfig(opts.configFormat ?? 'barelb', log, metrics);
    const keys = new HeartbeatKeyWatch(core, namespace, log);
    const stop = async (synced: boolean): Promise<void> => {
      await this.shutdown({ l2, announcer, watches, leaseWriter, nodeport, events }, synced);
    };

    // A SIGTERM while the API server is unreachable must not wait for it to come back.
    const stopListing = (): void => void watches.stop();
    signal.addEventListener('abort', stopListing, { once: true });
    if (!signal.aborted) await watches.start();
    if (!signal.aborted) await config.readRecord(core, namespace);
    if (!signal.aborted) config.apply(watches.config.current().loaded);
    const firstKeys = signal.aborted ? undefined : await keys.first(signal);
    signal.removeEventListener('abort', stopListing);
    if (signal.aborted || !firstKeys) return stop(false);
    const { intervalMs, failureTimeoutMs } = opts.heartbeat;
    const membership = new Membership(opts.node, { failureTimeoutMs, pauseThresholdMs: failureTimeoutMs - intervalMs, hearsMeGraceMs: hearsMeGraceFor(intervalMs) });
    const host = new HostNetwork();
    const refusals = new RefusalReporter(opts.node, log, events, metrics);
    const signingKeys = new SigningKeys((k) => l2.heartbeat({ node: opts.node, incarnation, ...opts.heartbeat, keys: k }), log.child({ part: 'keys' }));
    signingKeys.secretChanged(firstKeys);
    keys.follow((k) => signingKeys.secretChanged(k));
    const loop = (late.loop = new SpeakerLoop({ ...opts, settleMs: opts.settleMs ?? DEFAULT_SETTLE_MS, l2, watches, config, membership, announcer, host, refusals, leaseWriter, nodeport, events, keys: signingKeys }));
    leaseWriter.start();
    this.ready = true;
    log.info({ services: watches.services.list().length, ...opts.heartbeat }, 'speaker synced; listening for peers before taking any address');

    const timer = setInterval(() => loop.tick(), TICK_MS);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(timer);
    keys.stop();
    await stop(true);
  }

  /**
   * Says it is leaving first, so peers take over at once; keeps answering for two heartbeat intervals
   * while they do; then stops answering and deletes its Lease.
   */
  private async shutdown(
    parts: { l2: ArpThread; announcer: Announcer; watches: SpeakerWatches; leaseWriter: SpeakerLeaseWriter; nodeport: NodePortSync | undefined; events: EventRecorder },
    synced: boolean,
  ): Promise<void> {
    const { l2, announcer, watches, leaseWriter, events } = parts;
    const announced = [...announcer.announced()].length;
    if (synced) {
      l2.setFlags({ leaving: true });
      if (announced > 0) await sleep(2 * this.opts.heartbeat.intervalMs);
    }
    announcer.stop();
    await l2.close();
    await Promise.all([synced ? leaseWriter.stop() : undefined, parts.nodeport?.remove()]);
    await watches.stop();
    // Events still queued are worth a moment, not a shutdown that never ends against a struggling API server.
    await Promise.race([events.flush(), sleep(EVENT_FLUSH_MS)]);
    this.opts.log.info({ handedOver: announced }, 'speaker stopped');
  }
}

/** The L2 thread's counters (keys: see ArpReport) into this process's metrics. */
function countArp(m: SpeakerMetrics, ifname: string, key: string, n: number): void {
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
