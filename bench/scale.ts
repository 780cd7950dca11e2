import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, CoreV1Api, KubeConfig, Watch, type V1Lease, type V1Service } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from '../src/k8s/api-error.js';
import { LeaseClient } from '../src/k8s/lease-client.js';
import {
  apply, eventually, inNs, kubectl, lab, announcerOf, metricOf, startController, startSpeaker, type Proc, type Teardown,
} from '../testkit/lab.js';
import { median } from './allocator.js';
import { bareStatusWrites, deleteNamespaceAndWait, withConcurrency } from './controller.js';
import { arpTimes, percentile } from './speaker.js';

/*
 * The pool is 198.18.0.0/18 (16,384 addresses) in 198.18.0.0/15, the range RFC 2544 sets aside for
 * benchmarks: the lab LAN (198.51.100.0/24) holds 256. The speakers announce an IP only on an
 * interface whose subnet holds it, so the bench puts a second subnet, 198.18.0.0/16, on the same
 * switch: a secondary address on every node's and the client's eth0. Every pool address is then on
 * the LAN for real: elected, announced, and answered over ARP from the client.
 */
const POOL = '198.18.0.0/18';
const SUBNET_PREFIX = '198.18.255';
const NS_SYSTEM = 'barelb-system';
const LEASE_PREFIX = 'barelb-ip-198-18-';

export interface ArpSample {
  readonly vipMedianUs: number;
  readonly vipP99Us: number;
  readonly kernelMedianUs: number;
  readonly kernelP99Us: number;
  readonly samples: number;
  /** Replies the VIP got (its requests were up to as many as the kernel's). */
  readonly vipReplies: number;
}

export interface ProcessCost {
  readonly name: string;
  /** VmHWM: the resident set's high-water mark over the process's life. */
  readonly peakRssMiB: number;
  /** VmRSS at the end of the steady-state window. */
  readonly rssMiB: number;
  /** CPU (user + system) over the steady-state window, in % of one core. */
  readonly cpuPercent: number;
}

/** One setting of the speakers' timers, measured once every IP had been announced (or the wait gave up). */
export interface PhaseResult {
  readonly leaseDuration: string;
  readonly renewInterval: string;
  readonly renewIntervalMs: number;
  /** From the speakers' start (or the first create) until they together announce every IP; undefined if they never did. */
  readonly allAnnouncedMs: number | undefined;
  readonly announcedAtWindow: number;
  readonly window: {
    readonly seconds: number;
    /** Leases held by all speakers together (mean of start and end). */
    readonly held: number;
    /** Answered Lease writes per second, from the speakers' barelb_lease_writes_total. */
    readonly writesPerS: number;
    readonly byKind: Readonly<Record<string, number>>;
    /** Lease changes per second seen by a watch on the Leases (each one a new resourceVersion). */
    readonly watchedPerS: number;
    /** Times that watch had to be restarted in the window (changes in a gap are not counted). */
    readonly watchGaps: number;
    /** held / renew interval. */
    readonly predictedPerS: number;
    /** Writes that lost a compare-and-swap or failed, per second. */
    readonly conflictsOrErrorsPerS: number;
  };
  /** Steady-state RSS and CPU over the window; peak RSS over the speakers' life. */
  readonly processes: readonly ProcessCost[];
  /** Undefined when the VIP was not announced. */
  readonly arpSteady: ArpSample | undefined;
}

export interface ScaleBenchResult {
  readonly services: number;
  readonly pool: string;
  /** Baseline: `services` sequential status patches by a bare client loop. */
  readonly bareStatusWritesMs: number;
  /** Baseline: Lease renewals per second a bare client loop (`bareLeaseWriters` concurrent writers) gets through. */
  readonly bareLeaseWritesPerS: number;
  readonly bareLeaseWriters: number;
  /** From the first create to the last create answered (8 concurrent creators). */
  readonly createMs: number;
  /** From the first create until every Service shows an EXTERNAL-IP. */
  readonly allAssignedMs: number;
  /** Timers sized for half the bare loop's Lease write rate (creation, churn), then the given timers (the defaults). */
  readonly phases: readonly PhaseResult[];
  /** In the first phase. */
  readonly arpChurn: ArpSample | undefined;
  readonly churnOpsPerS: number;
}

function procStatus(pid: number): { hwmKiB: number; rssKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

function arpSample(vip: number[], kernel: number[]): ArpSample | undefined {
  if (vip.length === 0 || kernel.length === 0) return undefined;
  return {
    vipMedianUs: median(vip),
    vipP99Us: percentile(vip, 99),
    kernelMedianUs: median(kernel),
    kernelP99Us: percentile(kernel, 99),
    samples: Math.min(vip.length, kernel.length),
    vipReplies: vip.length,
  };
}

/** Undefined when either address did not answer at all. */
async function arpInterleaved(vip: string, kernelIp: string, samples: number): Promise<ArpSample | undefined> {
  const v: number[] = [];
  const k: number[] = [];
  for (let round = 0; round < 3; round++) {
    v.push(...(await arpTimes(vip, Math.ceil(samples / 3))));
    k.push(...(await arpTimes(kernelIp, Math.ceil(samples / 3))));
  }
  return arpSample(v, k);
}

/**
 * A watch that comes back: the API server ends watches (and, overloaded, drops them); each restart
 * lists first, so nothing changed in the gap is missed. `onList` gets the full list, `onEvent` the rest.
 */
async function keepWatching<T extends { metadata?: { resourceVersion?: string } }>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<{ metadata?: { resourceVersion?: string }; items: T[] }>,
  onList: (items: T[]) => void,
  onEvent: (type: string, obj: T) => void,
): Promise<{ stop: () => void; restarts: () => number }> {
  let stopped = false;
  let restarts = -1;
  let ctl: AbortController | undefined;
  const start = async (): Promise<void> => {
    while (!stopped) {
      try {
        const l = await list();
        onList(l.items);
        restarts++;
        ctl = await new Watch(kc).watch(path, { resourceVersion: l.metadata?.resourceVersion, allowWatchBookmarks: false }, onEvent, () => {
          if (!stopped) void start();
        });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  await start();
  return {
    stop: () => {
      stopped = true;
      ctl?.abort();
    },
    restarts: () => restarts,
  };
}

/** Retries what an overloaded API server fails (5xx, 429, no answer); an already existing object counts as created. */
async function persistently(what: string, fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      const code = statusCodeOf(err);
      if (code === 409) return;
      if ((code !== undefined && code < 500 && code !== 429) || attempt >= 10) throw new Error(`${what}: ${describeApiError(err)}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

function lbService(name: string): V1Service {
  return { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } };
}

async function createServices(core: CoreV1Api, namespace: string, names: string[]): Promise<void> {
  await withConcurrency(names, 8, (name) => persistently(`creating Service ${namespace}/${name}`, () => core.createNamespacedService({ namespace, body: lbService(name) })));
}

/**
 * Lease renewals per second by a bare client loop: `writers` concurrent compare-and-swap renewals through
 * the speakers' own LeaseClient, for `seconds`.
 */
async function bareLeaseWrites(coordination: CoordinationV1Api, namespace: string, writers: number, seconds: number): Promise<number> {
  const leases = Array.from({ length: writers }, (_, i) => new LeaseClient(coordination, namespace, `bare-${i}`));
  let writes = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(leases.map(async (lease) => {
    let cur = await lease.create('bench', 4);
    while (performance.now() < end) {
      cur = await lease.write(cur, 'bench', 4);
      writes++;
    }
  }));
  return writes / ((performance.now() - start) / 1000);
}

async function speakerSum(metric: string): Promise<number> {
  const xs = await Promise.all(lab.nodes.map((n) => metricOf(n, metric).catch(() => NaN)));
  return xs.reduce((a, b) => a + b, 0);
}

/** Lease writes by kind and result, summed over the speakers. */
async function leaseWrites(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of lab.nodes) {
    const text = await inNs(lab.nodeNs(n), 'curl', ['-s', 'http://127.0.0.1:7473/metrics']);
    for (const m of text.matchAll(/^barelb_lease_writes_total\{kind="(\w+)",result="(\w+)"\} (\S+)$/gm)) {
      const key = `${m[1]}/${m[2]}`;
      out.set(key, (out.get(key) ?? 0) + Number(m[3]));
    }
  }
  return out;
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

export interface ScaleBenchOptions {
  readonly services: number;
  readonly windowSeconds: number;
  readonly arpSamples: number;
  readonly leaseDuration: string;
  readonly renewInterval: string;
  /** The second phase's renew interval; default: sized so the speakers use half the bare loop's Lease write rate. */
  readonly sizedRenewInterval: string | undefined;
}

const toMs = (d: string): number => (d.endsWith('ms') ? Number(d.slice(0, -2)) : d.endsWith('s') ? Number(d.slice(0, -1)) * 1000 : NaN);
const progress = (msg: string): void => console.error(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * In the lab, with the controller and three speakers running: `services` LoadBalancer Services created
 * at once, until all are assigned and announced; then a quiet window measuring the Lease writes the
 * speakers cause, their cost, and ARP replies for one VIP beside the kernel's. Then the same with the
 * speakers restarted on timers sized by the documented formula, and ARP once more while Services churn.
 */
export async function benchScale(o: ScaleBenchOptions): Promise<ScaleBenchResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(lab.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const tag = Date.now().toString(36);
  const ns = `bench-scale-${tag}`;
  const nsBare = `bench-scale-bare-${tag}`;
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  try {
    await kubectl(['create', 'namespace', NS_SYSTEM]).catch(() => undefined);
    for (const n of [ns, nsBare]) await core.createNamespace({ body: { metadata: { name: n } } });
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: ${NS_SYSTEM}}\ndata:\n  config.yaml: |\n    pools:\n      - name: scale\n        addresses: [${POOL}]\n`);
    await addSecondSubnet(t);

    // Baselines on a quiet cluster: status writes and Lease writes by bare client loops.
    progress('baselines');
    const bareServices = Math.min(100, o.services);
    await createServices(core, nsBare, Array.from({ length: bareServices }, (_, i) => `b-${i}`));
    const bareStatusWritesMs = await bareStatusWrites(core, nsBare, o.services, bareServices, 'b');
    const bareLeaseWriters = 24;
    const bareLeaseWritesPerS = await bareLeaseWrites(coordination, nsBare, bareLeaseWriters, Math.min(10, o.windowSeconds));
    await deleteNamespaceAndWait(core, nsBare);
    progress(`bare loops: ${o.services} status writes in ${(bareStatusWritesMs / 1000).toFixed(1)} s; ${bareLeaseWritesPerS.toFixed(0)} Lease writes/s`);
    // Timers sized by the documented formula for half what the bare loop got through (unless given).
    const sizedRenew = o.sizedRenewInterval ?? `${Math.max(1, Math.ceil(o.services / (bareLeaseWritesPerS / 2)))}s`;
    const sizedLease = `${Math.ceil((4 * toMs(sizedRenew)) / 1000)}s`;

    const controller = startController(t, ['--log-level', 'warn']);
    const startSpeakers = async (leaseDuration: string, renewInterval: string): Promise<Map<string, Proc>> => {
      const speakers = new Map<string, Proc>();
      for (const n of lab.nodes) speakers.set(n, startSpeaker(t, n, ['--lease-duration', leaseDuration, '--renew-interval', renewInterval, '--log-level', 'warn']));
      for (const n of lab.nodes) {
        await eventually(`the speaker on ${n}`, 60_000, async () =>
          (await inNs(lab.nodeNs(n), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']).catch(() => '')).includes('ok') ? true : undefined,
        );
      }
      return speakers;
    };
    let speakers = await startSpeakers(sizedLease, sizedRenew);

    const assigned = new Set<string>();
    let allAssigned: () => void = () => undefined;
    const assignedPromise = new Promise<void>((r) => (allAssigned = r));
    const seeService = (type: string, svc: V1Service): void => {
      const name = svc.metadata?.name ?? '';
      if (type !== 'DELETED' && (svc.status?.loadBalancer?.ingress ?? []).length > 0) assigned.add(name);
      else assigned.delete(name);
      if (assigned.size >= o.services) allAssigned();
    };
    const serviceWatch = await keepWatching<V1Service>(kc, `/api/v1/namespaces/${ns}/services`, () => core.listNamespacedService({ namespace: ns }), (items) => {
      assigned.clear();
      for (const svc of items) seeService('ADDED', svc);
    }, seeService);
    t.teardown(serviceWatch.stop);
    let leaseChanges = 0;
    const leaseWatch = await keepWatching<V1Lease>(kc, `/apis/coordination.k8s.io/v1/namespaces/${NS_SYSTEM}/leases`, () => coordination.listNamespacedLease({ namespace: NS_SYSTEM }), () => undefined, (type, lease) => {
      if (type === 'MODIFIED' && lease.metadata?.name?.startsWith(LEASE_PREFIX)) leaseChanges++;
    });
    t.teardown(leaseWatch.stop);

    progress(`creating ${o.services} Services`);
    const start = performance.now();
    // The NodePort range must hold them all (npm run bench sets BARELB_CP_NODE_PORT_RANGE=20000-32767).
    await createServices(core, ns, Array.from({ length: o.services }, (_, i) => `s-${i}`));
    const createMs = performance.now() - start;
    progress(`created in ${(createMs / 1000).toFixed(1)} s; waiting for all to be assigned`);
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${assigned.size} of ${o.services} Services assigned after 900 s`)), 900_000).unref());
    await Promise.race([assignedPromise, deadline]);
    const allAssignedMs = performance.now() - start;
    const vip = (await kubectl(['get', 'service', '-n', ns, 's-0', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim();

    /** Waits for every IP to be announced, then measures a quiet window; ARP for `vip` if it is announced. */
    const measurePhase = async (leaseDuration: string, renewInterval: string, since: number, waitMs: number): Promise<PhaseResult> => {
      progress(`timers lease ${leaseDuration} renew ${renewInterval}: waiting for all ${o.services} IPs to be announced`);
      let allAnnouncedMs: number | undefined;
      const announceDeadline = performance.now() + waitMs;
      while (performance.now() < announceDeadline) {
        if ((await speakerSum('barelb_addresses_announced')) >= o.services) {
          allAnnouncedMs = performance.now() - since;
          break;
        }
        await sleepMs(1000);
      }
      await sleepMs(5000); // the acquisitions' GARP bursts and Events settle
      const announcedAtWindow = await speakerSum('barelb_addresses_announced');
      progress(`${announcedAtWindow} announced; measuring a ${o.windowSeconds} s window`);
      const procs: [string, Proc][] = [['controller', controller], ...[...speakers].map(([n, p]): [string, Proc] => [`speaker ${n}`, p])];
      const cpu0 = procs.map(([, p]) => cpuSeconds(p.child.pid as number));
      const held0 = await speakerSum('barelb_leases_held');
      const writes0 = await leaseWrites();
      const changes0 = leaseChanges;
      const restarts0 = leaseWatch.restarts();
      const w0 = performance.now();
      await sleepMs(o.windowSeconds * 1000);
      const writes1 = await leaseWrites();
      const changes1 = leaseChanges;
      const windowS = (performance.now() - w0) / 1000;
      const watchGaps = leaseWatch.restarts() - restarts0;
      const held1 = await speakerSum('barelb_leases_held');
      const cpu1 = procs.map(([, p]) => cpuSeconds(p.child.pid as number));
      const byKind: Record<string, number> = {};
      let ok = 0;
      let bad = 0;
      for (const [k, v] of writes1) {
        const rate = (v - (writes0.get(k) ?? 0)) / windowS;
        if (rate > 0) byKind[k] = rate;
        if (k.endsWith('/ok')) ok += rate;
        else bad += rate;
      }
      const held = (held0 + held1) / 2;
      const processes = procs.map(([name, p], i): ProcessCost => {
        const st = procStatus(p.child.pid as number);
        return { name, rssMiB: st.rssKiB / 1024, peakRssMiB: st.hwmKiB / 1024, cpuPercent: (((cpu1[i] as number) - (cpu0[i] as number)) / windowS) * 100 };
      });
      const holder = await announcerOf(vip);
      const arpSteady = holder ? await arpInterleaved(vip, lab.nodeIp(holder), o.arpSamples) : undefined;
      return {
        leaseDuration,
        renewInterval,
        renewIntervalMs: toMs(renewInterval),
        allAnnouncedMs,
        announcedAtWindow,
        window: {
          seconds: windowS,
          held,
          writesPerS: ok,
          byKind,
          watchedPerS: (changes1 - changes0) / windowS,
          watchGaps,
          predictedPerS: held / (toMs(renewInterval) / 1000),
          conflictsOrErrorsPerS: bad,
        },
        processes,
        arpSteady,
      };
    };

    const phases: PhaseResult[] = [await measurePhase(sizedLease, sizedRenew, start, Math.max(180_000, o.services * 40))];

    // ARP once more while Services churn: deleted and created again, 4 at a time.
    progress('ARP while Services churn');
    const holder = await announcerOf(vip);
    let churning = true;
    let churnOps = 0;
    const churnStart = performance.now();
    const churn = withConcurrency(Array.from({ length: o.services - 1 }, (_, i) => i + 1), 4, async (i) => {
      if (!churning) return;
      await persistently(`deleting s-${i}`, () => core.deleteNamespacedService({ name: `s-${i}`, namespace: ns }).catch((err: unknown) => {
        if (statusCodeOf(err) !== 404) throw err;
      }));
      await persistently(`creating c-${i}`, () => core.createNamespacedService({ namespace: ns, body: lbService(`c-${i}`) }));
      churnOps += 2;
    });
    const arpChurn = holder ? await arpInterleaved(vip, lab.nodeIp(holder), o.arpSamples) : await sleepMs(20_000).then(() => undefined);
    churning = false;
    const churnOpsPerS = churnOps / ((performance.now() - churnStart) / 1000);
    await churn;
    // Peak RSS after the churn too: the speakers' high-water mark over their whole life.
    const pidOf = (name: string): number => (name === 'controller' ? controller : (speakers.get(name.replace('speaker ', '')) as Proc)).child.pid as number;
    const peaks = (p: PhaseResult): PhaseResult => ({ ...p, processes: p.processes.map((c) => ({ ...c, peakRssMiB: procStatus(pidOf(c.name)).hwmKiB / 1024 })) });
    phases[0] = peaks(phases[0] as PhaseResult);

    // The given timers (the speakers' defaults): at this many IPs they may ask for more writes than the API server absorbs.
    if (sizedRenew !== o.renewInterval) {
      progress(`restarting the speakers with lease ${o.leaseDuration} renew ${o.renewInterval}`);
      for (const p of speakers.values()) await p.kill('SIGTERM');
      const restart = performance.now();
      speakers = await startSpeakers(o.leaseDuration, o.renewInterval);
      phases[1] = peaks(await measurePhase(o.leaseDuration, o.renewInterval, restart, 120_000));
    }
    progress('done');
    return { services: o.services, pool: POOL, bareStatusWritesMs, bareLeaseWritesPerS, bareLeaseWriters, createMs, allAssignedMs, phases, arpChurn, churnOpsPerS };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await kubectl(['delete', 'namespace', ns, nsBare, '--wait=false']).catch(() => undefined);
  }
}
