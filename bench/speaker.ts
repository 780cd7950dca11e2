import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createBarelbNamespaces,
  ROOT, apply, eventually, fetchFromClient, inNs, ingressIp, kubectl, lab, serviceYaml, startBackend, startController, startIn,
  startSpeaker, type Proc, type Teardown,
} from '../testkit/lab.js';
import { median } from './allocator.js';
import type { ProbeLog } from './failover-probe.js';
import {
  apiLeaseWrites, arpInterleaved, arpOnce, neighbourOnce, nodeMacs, nowMs, peersSettled, progress, sleepMs, speakerReady, speakerSum, urlOf,
  type ArpSample,
} from './lab-probes.js';

/** Lease writes over a quiet window: the API server's count, the speakers' own, and the rest (the controller's leader election). */
export interface WriteWindow {
  readonly seconds: number;
  readonly ips: number;
  /** Answered Lease creates/updates/patches per second, from the API server's apiserver_request_total. */
  readonly apiPerS: number;
  /** Per second, from the speakers' barelb_lease_writes_total (every result). */
  readonly speakersPerS: number;
  /** apiPerS − speakersPerS: the only other Lease writer in the lab is the controller's leader election. */
  readonly otherPerS: number;
}

export type FailoverKind = 'kill' | 'link-down' | 'sigterm';

export interface FailoverRun {
  readonly kind: FailoverKind;
  readonly from: string;
  /** From the action until the first request answered through another node. */
  readonly servedMs: number | undefined;
  /** From the action until the client's neighbour entry shows another MAC. */
  readonly neighMs: number | undefined;
  /** Requests sent after the action that failed. */
  readonly failed: number;
  readonly requests: number;
  /** Longest time between two successful responses, from the last one before the action. */
  readonly gapMs: number;
}

export interface SpeakerBenchResult {
  readonly ips: number;
  readonly arp: ArpSample | undefined;
  readonly throughput: { readonly vipMbps: number; readonly nodePortMbps: number; readonly rounds: number };
  readonly writes: WriteWindow;
  readonly failovers: readonly FailoverRun[];
}

const NS = 'bench-speaker';
const SYSTEM = 'barelb-system';
/** 50 addresses of the lab LAN: 49 web Services and one for iperf3. */
const POOL = '198.51.100.200-198.51.100.249';
const PROBE = path.join(ROOT, 'dist/bench/failover-probe.js');

async function iperf(target: string, port: number): Promise<number> {
  const out = await inNs(lab.clientNs, 'iperf3', ['-c', target, '-p', String(port), '-t', '3', '-J'], 30_000);
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e6;
}

/** Lease writes over `seconds`, counted by the API server and by the speakers. */
export async function writeWindow(seconds: number, ips: number): Promise<WriteWindow> {
  const api0 = await apiLeaseWrites();
  const sp0 = await speakerSum('barelb_lease_writes_total');
  const t0 = performance.now();
  await sleepMs(seconds * 1000);
  const api1 = await apiLeaseWrites();
  const sp1 = await speakerSum('barelb_lease_writes_total');
  const s = (performance.now() - t0) / 1000;
  return { seconds: s, ips, apiPerS: (api1 - api0) / s, speakersPerS: (sp1 - sp0) / s, otherPerS: (api1 - api0 - (sp1 - sp0)) / s };
}

/** Starts the prober in the client namespace and waits until it runs. */
async function startProbe(t: Teardown, vip: string): Promise<Proc> {
  const p = startIn(t, lab.clientNs, process.execPath, [PROBE, '--url', urlOf(vip), '--vip', vip, '--interval', '20', '--timeout', '1000'], 'failover-probe');
  await eventually('the failover probe', 20_000, async () => (p.output().includes('ready') ? true : undefined), 50);
  return p;
}

async function stopProbe(p: Proc): Promise<ProbeLog> {
  await p.kill('SIGTERM');
  const last = p.output().trim().split('\n').pop() ?? '';
  return JSON.parse(last) as ProbeLog;
}

export function analyse(kind: FailoverKind, from: string, oldMac: string, t0: number, log: ProbeLog): FailoverRun {
  const after = log.requests.filter((r) => r.sentAt >= t0);
  const served = log.requests.filter((r) => r.node !== undefined && r.node !== from && r.doneAt >= t0).map((r) => r.doneAt).sort((a, b) => a - b)[0];
  const neigh = log.neigh.find((n) => n.at >= t0 && n.mac !== '' && n.mac !== oldMac);
  const oks = log.requests.filter((r) => r.node !== undefined).map((r) => r.doneAt).sort((a, b) => a - b);
  let gap = 0;
  const lastBefore = oks.filter((x) => x < t0).pop() ?? t0;
  let prev = lastBefore;
  for (const x of oks.filter((y) => y >= t0)) {
    gap = Math.max(gap, x - prev);
    prev = x;
  }
  return {
    kind,
    from,
    servedMs: served === undefined ? undefined : served - t0,
    neighMs: neigh === undefined ? undefined : neigh.at - t0,
    failed: after.filter((r) => r.node === undefined).length,
    requests: after.length,
    gapMs: gap,
  };
}

/**
 * A fresh namespace `ns`, one pool `lan` of `ranges`, the controller and a speaker on every node (logging at
 * warn), and on every node a backend named after it (on its IPv6 address too with `ipv6`): Services
 * externalTrafficPolicy Local then name the node the client's traffic went to. Stopped through `t`.
 */
export async function startSpeakerLab(t: Teardown, ns: string, ranges: readonly string[], ipv6 = false): Promise<{ speakers: Map<string, Proc>; start(node: string): void }> {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', ns]);
  await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: ${SYSTEM}}\ndata:\n  config.yaml: |\n    pools:\n      - name: lan\n        addresses: [${ranges.join(', ')}]\n`);
  startController(t, ['--log-level', 'warn']);
  const speakers = new Map<string, Proc>();
  const start = (n: string): void => void speakers.set(n, startSpeaker(t, n, ['--log-level', 'warn']));
  for (const n of lab.nodes) start(n);
  for (const n of lab.nodes) {
    startBackend(t, n, 8080, n);
    if (ipv6) startBackend(t, n, 8080, n, lab.nodeIp6(n));
  }
  return { speakers, start };
}

/** What a failover run needs: the running speakers (replaced as they are restarted), how to start one, and the nodes' MACs. */
export interface FailoverLab {
  readonly t: Teardown;
  readonly speakers: Map<string, Proc>;
  start(node: string): void;
  /** MAC → node. */
  readonly macs: ReadonlyMap<string, string>;
  say(message: string): void;
}

/**
 * One failover of `vip` (IPv4 or IPv6; its Service externalTrafficPolicy Local with a backend named after
 * each node) seen from the client by the prober: kill -9, SIGTERM or link down of its holder, then the holder
 * restored (speaker restarted, or link up). Undefined when the VIP has no single holder that answers.
 */
export async function failoverOnce(f: FailoverLab, kind: FailoverKind, vip: string, label: string): Promise<FailoverRun | undefined> {
  await peersSettled();
  const oldMac = await eventually(`a single holder of ${vip}`, 15_000, async () => {
    const mac = await neighbourOnce(vip);
    return f.macs.has(mac) && (await fetchFromClient(urlOf(vip))) ? mac : undefined;
  }, 500).catch(() => '');
  const from = f.macs.get(oldMac);
  if (!from) {
    f.say(`${kind}: ${vip} has no single holder or does not answer; skipped`);
    return undefined;
  }
  const probe = await startProbe(f.t, vip);
  await sleepMs(300);
  const t0 = nowMs();
  const speaker = f.speakers.get(from) as Proc;
  if (kind === 'kill') speaker.child.kill('SIGKILL');
  else if (kind === 'sigterm') speaker.child.kill('SIGTERM');
  else await inNs(lab.nodeNs(from), 'ip', ['link', 'set', 'eth0', 'down']);
  await sleepMs(kind === 'sigterm' ? 1500 : 2500);
  const run = analyse(kind, from, oldMac, t0, await stopProbe(probe));
  f.say(`${kind} ${label} of ${from} (${vip}): served by another node after ${run.servedMs?.toFixed(0)} ms, neighbour entry after ${run.neighMs?.toFixed(0)} ms, ${run.failed} of ${run.requests} failed`);
  if (kind === 'link-down') await inNs(lab.nodeNs(from), 'ip', ['link', 'set', 'eth0', 'up']);
  else {
    await speaker.kill('SIGKILL'); // waits for the exit (already gone, or finishing its SIGTERM)
    f.start(from);
    await speakerReady(from);
  }
  return run;
}

/**
 * In the lab with 50 VIPs on the LAN: ARP reply latency of a VIP (answered by the speaker) beside a node's
 * own address (answered by the kernel), iperf3 through the VIP beside NodeIP:NodePort, the Lease writes at
 * steady state, and failover seen from the client after kill -9, link down and SIGTERM of the holder.
 */
export async function benchSpeaker(o: { runs: number; arpSamples: number; windowSeconds: number }): Promise<SpeakerBenchResult> {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  const say = (m: string): void => progress('speaker', m);
  try {
    const { speakers, start } = await startSpeakerLab(t, NS, [POOL]);
    const node1 = lab.nodes[0] as string;
    startIn(t, lab.nodeNs(node1), 'iperf3', ['-s', '-B', lab.nodeIp(node1), '-p', '5201'], 'iperf3');
    const webCount = 49;
    const items = [
      ...Array.from({ length: webCount }, (_, i) => serviceYaml({ name: `web-${i}`, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, externalTrafficPolicy: 'Local' })),
      serviceYaml({ name: 'iperf', namespace: NS, port: 5201, targetPort: 5201, endpointNodes: [node1] }),
    ].flatMap((y) => (JSON.parse(y) as { items: unknown[] }).items);
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const ips = webCount + 1;
    say(`waiting for ${ips} IPs to be announced`);
    await eventually(`all ${ips} IPs announced`, 120_000, async () => ((await speakerSum('barelb_addresses_announced')) === ips ? true : undefined), 500);
    const vips = await Promise.all(Array.from({ length: webCount }, (_, i) => ingressIp(NS, `web-${i}`)));
    const macs = await nodeMacs();
    const holderOf = async (vip: string): Promise<string | undefined> => macs.get(await arpOnce(vip));

    const vip0 = vips[0] as string;
    const holder0 = await eventually('a holder', 20_000, () => holderOf(vip0));
    await eventually('traffic', 20_000, () => fetchFromClient(`http://${vip0}/`));
    say('ARP latency');
    const arp = await arpInterleaved(vip0, lab.nodeIp(holder0), o.arpSamples);

    say('throughput');
    const iperfVip = await ingressIp(NS, 'iperf');
    const nodePort = Number(await kubectl(['get', 'svc', '-n', NS, 'iperf', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
    const viaVip: number[] = [];
    const viaNodePort: number[] = [];
    for (let round = 0; round < 3; round++) {
      viaVip.push(await iperf(iperfVip, 5201));
      viaNodePort.push(await iperf(lab.nodeIp(node1), nodePort));
    }

    say(`Lease writes over ${o.windowSeconds} s at ${ips} IPs`);
    await sleepMs(10_000);
    const writes = await writeWindow(o.windowSeconds, await speakerSum('barelb_addresses_announced'));
    say(`writes: ${writes.apiPerS.toFixed(2)}/s (speakers ${writes.speakersPerS.toFixed(2)}/s)`);

    const failovers: FailoverRun[] = [];
    const f: FailoverLab = { t, speakers, start, macs, say };
    let next = 0;
    for (const kind of ['kill', 'link-down', 'sigterm'] as const) {
      for (let i = 0; i < o.runs; i++) {
        const run = await failoverOnce(f, kind, vips[next++ % vips.length] as string, `${i + 1}/${o.runs}`);
        if (run) failovers.push(run);
      }
    }
    return {
      ips,
      arp,
      throughput: { vipMbps: median(viaVip), nodePortMbps: median(viaNodePort), rounds: viaVip.length },
      writes,
      failovers,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  }
}
