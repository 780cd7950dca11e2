import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from '../src/k8s/api-error.js';
import { readSpeakerLease } from '../src/election/speaker-lease.js';
import { SPEAKER_LEASE_NAMESPACE } from '../src/names.js';
import {
  createBarelbNamespaces,
  apply, eventually, inNs, kubectl, lab, metricOf, serviceYaml, startBackend, startController, startSpeaker, type Proc, type Teardown,
} from '../testkit/lab.js';
import { bareStatusWrites, deleteNamespaceAndWait, withConcurrency } from './controller.js';
import {
  arpInterleaved, arpOnce, cpuSeconds, nodeMacs, nowMs, procStatus, progress, sleepMs, speakerEach, speakerPid, speakerReady, speakerSum,
  type ArpSample,
} from './lab-probes.js';
import { writeWindow, type WriteWindow } from './speaker.js';

/*
 * The pool is 198.18.0.0/18 (16,384 addresses) in 198.18.0.0/15, the range RFC 2544 sets aside for
 * benchmarks: the lab LAN (198.51.100.0/24) holds 256. The speakers announce an IP only on an
 * interface whose subnet holds it, so the bench puts a second subnet, 198.18.0.0/16, on the same
 * switch: a secondary address on every node's and the client's eth0. Every pool address is then on
 * the LAN for real: elected, announced, and answered over ARP from the client.
 */
export const POOL = '198.18.0.0/18';
const SUBNET_PREFIX = '198.18.255';
const NS_SYSTEM = 'barelb-system';
/** Services with backends on every node (port 8080), for the soak's traffic; the rest have none. */
export const WEB_SERVICES = 3;

const say = (m: string): void => progress('scale', m);

export interface ProcessCost {
  readonly name: string;
  /** VmHWM: the resident set's high-water mark over the process's life. */
  readonly peakRssMiB: number;
  /** VmRSS at the end of the window. */
  readonly rssMiB: number;
  /** CPU (user + system) over the window, in % of one core. */
  readonly cpuPercent: number;
}

/** The lab at scale: the controller and three speakers at their defaults, `services` LoadBalancer Services. */
export interface ScaleLab {
  readonly services: number;
  readonly core: CoreV1Api;
  readonly ns: string;
  readonly controller: Proc;
  readonly speakers: Map<string, Proc>;
  /** Names of the Services the churn may delete (none of the web ones). */
  readonly churnable: string[];
  readonly webVips: string[];
  restartSpeaker(node: string): Promise<void>;
  readonly t: Teardown;
  close(): Promise<void>;
  /** Baseline: `services` sequential status patches by a bare client loop. */
  readonly bareStatusWritesMs: number;
  /** From the first create to the last answered (8 concurrent creators). */
  readonly createMs: number;
  readonly allAssignedMs: number;
  /** From the first create until the speakers together announce every IP. */
  readonly allAnnouncedMs: number | undefined;
}

/** Retries what an overloaded API server fails (5xx, 429, no answer); an already existing object counts as created. */
export async function persistently(what: string, fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      const code = statusCodeOf(err);
      if (code === 409 || (code === 404 && what.startsWith('deleting'))) return;
      if ((code !== undefined && code < 500 && code !== 429) || attempt >= 10) throw new Error(`${what}: ${describeApiError(err)}`);
      await sleepMs(500 * attempt);
    }
  }
}

export function lbService(name: string): V1Service {
  return { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } };
}

async function createServices(core: CoreV1Api, namespace: string, names: string[]): Promise<void> {
  await withConcurrency(names, 8, (name) => persistently(`creating Service ${namespace}/${name}`, () => core.createNamespacedService({ namespace, body: lbService(name) })));
}

async function addSecondSubnet(t: Teardown): Promise<void> {
  const hosts: [string, string][] = [
    ...lab.nodes.map((n, i): [string, string] => [lab.nodeNs(n), `${SUBNET_PREFIX}.${11 + i}`]),
    [lab.clientNs, `${SUBNET_PREFIX}.100`],
  ];
  for (const [ns, ip] of hosts) {
    await inNs(ns, 'ip', ['addr', 'add', `${ip}/16`, 'dev', 'eth0']);
    t.teardown(() => inNs(ns, 'ip', ['addr', 'del', `${ip}/16`, 'dev', 'eth0']).catch(() => undefined));
  }
}

/** Every LoadBalancer IP in the namespace's Service status. */
export async function serviceIps(core: CoreV1Api, ns: string): Promise<string[]> {
  const list = await core.listNamespacedService({ namespace: ns });
  return list.items.flatMap((s) => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '')).filter(Boolean);
}

/**
 * Builds the lab at scale: a bare status-write loop as the baseline, then the controller and three
 * speakers at their default timers, `services` LoadBalancer Services created 8 at a time, until all are
 * assigned and announced.
 */
export async function setupScale(services: number): Promise<ScaleLab> {
  const kc = new KubeConfig();
  kc.loadFromFile(lab.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const tag = Date.now().toString(36);
  const ns = `bench-scale-${tag}`;
  const nsBare = `bench-scale-bare-${tag}`;
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  const close = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
    cleanups.length = 0;
    await kubectl(['delete', 'namespace', ns, nsBare, '--wait=false']).catch(() => undefined);
  };
  try {
    await createBarelbNamespaces();
    for (const n of [ns, nsBare]) await core.createNamespace({ body: { metadata: { name: n } } });
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: ${NS_SYSTEM}}\ndata:\n  config.yaml: |\n    pools:\n      - name: scale\n        addresses: [${POOL}]\n`);
    await addSecondSubnet(t);

    say('baseline: bare status writes');
    const bareServices = Math.min(100, services);
    await createServices(core, nsBare, Array.from({ length: bareServices }, (_, i) => `b-${i}`));
    const bareStatusWritesMs = await bareStatusWrites(core, nsBare, services, bareServices, 'b');
    await deleteNamespaceAndWait(core, nsBare);

    const controller = startController(t, ['--log-level', 'warn']);
    const speakers = new Map<string, Proc>();
    const start = (n: string): void => void speakers.set(n, startSpeaker(t, n, ['--log-level', 'warn']));
    for (const n of lab.nodes) start(n);
    for (const n of lab.nodes) await speakerReady(n);
    for (const n of lab.nodes) startBackend(t, n, 8080, n);

    say(`creating ${services} Services`);
    const t0 = performance.now();
    const webItems = Array.from({ length: WEB_SERVICES }, (_, i) => serviceYaml({ name: `web-${i}`, namespace: ns, port: 80, targetPort: 8080, endpointNodes: lab.nodes }))
      .flatMap((y) => (JSON.parse(y) as { items: unknown[] }).items);
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: webItems }));
    const churnable = Array.from({ length: services - WEB_SERVICES }, (_, i) => `s-${i}`);
    await createServices(core, ns, churnable);
    const createMs = performance.now() - t0;
    say(`created in ${(createMs / 1000).toFixed(0)} s; waiting for all to be assigned`);
    await eventually(`all ${services} Services assigned`, 900_000, async () => ((await serviceIps(core, ns)).length >= services ? true : undefined), 2000);
    const allAssignedMs = performance.now() - t0;
    say(`assigned after ${(allAssignedMs / 1000).toFixed(0)} s; waiting for all to be announced`);
    let allAnnouncedMs: number | undefined;
    const deadline = performance.now() + 300_000;
    while (performance.now() < deadline) {
      if ((await speakerSum('barelb_addresses_announced')) >= services) {
        allAnnouncedMs = performance.now() - t0;
        break;
      }
      await sleepMs(1000);
    }
    const webVips = await Promise.all(Array.from({ length: WEB_SERVICES }, async (_, i) =>
      (await kubectl(['get', 'service', '-n', ns, `web-${i}`, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim()));
    return {
      services, core, ns, controller, speakers, churnable, webVips, t, close, bareStatusWritesMs, createMs, allAssignedMs, allAnnouncedMs,
      restartSpeaker: async (n: string) => {
        start(n);
        await speakerReady(n);
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface MassFailover {
  readonly node: string;
  /** What the node announced when it got SIGTERM. */
  readonly ips: number;
  /** From the SIGTERM until the other speakers' barelb_addresses_announced add up to every IP; undefined if not within 10 s. */
  readonly movedMs: number | undefined;
  /** Polls of the other speakers' metrics in that time (each a curl in their namespaces). */
  readonly polls: number;
  /** A sample of its IPs, each asked by one ARP request from the client starting 1 s after the SIGTERM. */
  readonly arpSample: number;
  readonly arpByOther: number;
  readonly arpByLeaver: number;
  readonly arpUnanswered: number;
  /** When the ARP sample finished, from the SIGTERM. */
  readonly arpDoneMs: number;
}

export interface ScaleBenchResult {
  readonly services: number;
  readonly pool: string;
  readonly bareStatusWritesMs: number;
  readonly createMs: number;
  readonly allAssignedMs: number;
  readonly allAnnouncedMs: number | undefined;
  /** Each IP, one ARP request from the client. */
  readonly arpCheck: { readonly ips: number; readonly answered: number; readonly several: number; readonly unanswered: number; readonly ms: number };
  readonly announcedBy: Readonly<Record<string, number>>;
  readonly writes: WriteWindow;
  readonly processes: readonly ProcessCost[];
  readonly arpSteady: ArpSample | undefined;
  readonly arpChurn: ArpSample | undefined;
  readonly churnOpsPerS: number;
  readonly massFailover: MassFailover | undefined;
}

/** The holder of `ip` as the client sees it, from the answering MAC. */
async function arpNode(ip: string, macs: Map<string, string>): Promise<string | undefined> {
  return macs.get(await arpOnce(ip));
}

/** What a node's speaker Lease says it announces. */
async function leaseAnnounces(node: string): Promise<string[]> {
  const out = await kubectl(['get', 'lease', '-n', SPEAKER_LEASE_NAMESPACE, `barelb-speaker-${node}`, '-o', 'json']);
  return [...(readSpeakerLease(JSON.parse(out) as Parameters<typeof readSpeakerLease>[0])?.announces ?? [])];
}

/**
 * At scale, defaults: every IP checked by ARP from the client; Lease writes and each process's cost over
 * a quiet window; ARP latency quiet and while Services churn; then SIGTERM of the speaker holding the most.
 */
export async function benchScale(s: ScaleLab, o: { windowSeconds: number; arpSamples: number; arpSampleOnFailover: number }): Promise<ScaleBenchResult> {
  const macs = await nodeMacs();
  say(`ARP check of all ${s.services} IPs from the client`);
  const ips = await serviceIps(s.core, s.ns);
  let answered = 0;
  let several = 0;
  let unanswered = 0;
  const c0 = performance.now();
  await withConcurrency(ips, 6, async (ip) => {
    const mac = await arpOnce(ip);
    if (mac === 'several') several++;
    else if (macs.has(mac)) answered++;
    else unanswered++;
  });
  const arpCheck = { ips: ips.length, answered, several, unanswered, ms: performance.now() - c0 };
  say(`ARP: ${answered} answered, ${several} by several, ${unanswered} not, in ${(arpCheck.ms / 1000).toFixed(0)} s`);
  const announcedBy = Object.fromEntries(await speakerEach('barelb_addresses_announced'));

  await sleepMs(10_000);
  say(`Lease writes and cost over ${o.windowSeconds} s`);
  const procs: [string, number][] = [['controller', s.controller.child.pid as number], ...[...s.speakers].map(([n, p]): [string, number] => [`speaker ${n}`, speakerPid(p)])];
  const cpu0 = procs.map(([, pid]) => cpuSeconds(pid));
  const w0 = performance.now();
  const writes = await writeWindow(o.windowSeconds, await speakerSum('barelb_addresses_announced'));
  const windowS = (performance.now() - w0) / 1000;
  const processes = procs.map(([name, pid], i): ProcessCost => {
    const st = procStatus(pid);
    return { name, rssMiB: st.rssKiB / 1024, peakRssMiB: st.hwmKiB / 1024, cpuPercent: ((cpuSeconds(pid) - (cpu0[i] as number)) / windowS) * 100 };
  });
  say(`writes ${writes.apiPerS.toFixed(2)}/s; ${processes.map((p) => `${p.name} ${p.rssMiB.toFixed(0)} MiB ${p.cpuPercent.toFixed(1)}%`).join(', ')}`);

  // s-0 is never churned: its address is measured quiet and while the others churn.
  const vip = (await kubectl(['get', 'service', '-n', s.ns, 's-0', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim();
  const holder = await arpNode(vip, macs);
  say('ARP latency, quiet');
  const arpSteady = holder ? await arpInterleaved(vip, lab.nodeIp(holder), o.arpSamples) : undefined;
  say('ARP latency while Services churn');
  let churning = true;
  let churnOps = 0;
  const churnStart = performance.now();
  const names = s.churnable.filter((n) => n !== 's-0').slice(0, 2000);
  const churn = withConcurrency(names.map((n, i) => [n, i] as const), 4, async ([name, i]) => {
    if (!churning) return;
    await persistently(`deleting ${name}`, () => s.core.deleteNamespacedService({ name, namespace: s.ns }));
    const fresh = `c-${i}`;
    await persistently(`creating ${fresh}`, () => s.core.createNamespacedService({ namespace: s.ns, body: lbService(fresh) }));
    s.churnable[s.churnable.indexOf(name)] = fresh;
    churnOps += 2;
  });
  const arpChurn = holder ? await arpInterleaved(vip, lab.nodeIp(holder), o.arpSamples) : undefined;
  churning = false;
  const churnOpsPerS = churnOps / ((performance.now() - churnStart) / 1000);
  await churn;
  say(`churn ${churnOpsPerS.toFixed(1)} ops/s; waiting for all ${s.services} to be announced again`);
  const settled = await eventually('every IP announced after the churn', 120_000, async () => ((await speakerSum('barelb_addresses_announced')) >= s.services ? true : undefined), 1000)
    .catch(() => false);
  if (!settled) say(`after the churn only ${await speakerSum('barelb_addresses_announced')} of ${s.services} announced after 120 s; going on`);
  await sleepMs(5000);

  const massFailover = await sigtermBiggest(s, macs, o.arpSampleOnFailover);
  return {
    services: s.services, pool: POOL, bareStatusWritesMs: s.bareStatusWritesMs, createMs: s.createMs, allAssignedMs: s.allAssignedMs, allAnnouncedMs: s.allAnnouncedMs,
    arpCheck, announcedBy, writes, processes, arpSteady, arpChurn, churnOpsPerS, massFailover,
  };
}

/** SIGTERM of the speaker announcing the most; its IPs must be taken over by the others within 1 s. */
async function sigtermBiggest(s: ScaleLab, macs: Map<string, string>, sample: number): Promise<MassFailover | undefined> {
  const each = await speakerEach('barelb_addresses_announced');
  const [node, count] = [...each].sort((a, b) => b[1] - a[1])[0] as [string, number];
  const mine = await leaseAnnounces(node);
  const picked = mine.filter((_, i) => i % Math.max(1, Math.floor(mine.length / sample)) === 0).slice(0, sample);
  const others = lab.nodes.filter((n) => n !== node);
  const myMac = [...macs].find(([, n]) => n === node)?.[0];
  say(`SIGTERM of ${node}, announcing ${count} (${mine.length} in its Lease)`);
  const t0 = nowMs();
  (s.speakers.get(node) as Proc).child.kill('SIGTERM');
  let movedMs: number | undefined;
  let polls = 0;
  const watch = (async () => {
    while (nowMs() - t0 < 10_000) {
      const xs = await Promise.all(others.map((n) => metricOf(n, 'barelb_addresses_announced').catch(() => 0)));
      polls++;
      if (xs.reduce((a, b) => a + b, 0) >= s.services) {
        movedMs = nowMs() - t0;
        return;
      }
      await sleepMs(20);
    }
  })();
  await sleepMs(Math.max(0, t0 + 1000 - nowMs()));
  let byOther = 0;
  let byLeaver = 0;
  let none = 0;
  await withConcurrency(picked, 6, async (ip) => {
    const mac = await arpOnce(ip);
    if (mac === myMac) byLeaver++;
    else if (macs.has(mac)) byOther++;
    else none++;
  });
  const arpDoneMs = nowMs() - t0;
  await watch;
  await (s.speakers.get(node) as Proc).kill('SIGKILL');
  await s.restartSpeaker(node);
  return { node, ips: count, movedMs, polls, arpSample: picked.length, arpByOther: byOther, arpByLeaver: byLeaver, arpUnanswered: none, arpDoneMs };
}
