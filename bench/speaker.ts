import { performance } from 'node:perf_hooks';
import {
  apply, eventually, fetchFromClient, inNs, ingressIp, kubectl, lab, announcerOf, macOf, serviceYaml, startBackend, startController, startIn,
  startSpeaker, type Proc, type Teardown,
} from '../testkit/lab.js';
import { median } from './allocator.js';

export interface SpeakerBenchResult {
  readonly arp: { readonly vipMedianUs: number; readonly vipP99Us: number; readonly kernelMedianUs: number; readonly kernelP99Us: number; readonly samples: number };
  readonly throughput: { readonly vipMbps: number; readonly nodePortMbps: number; readonly rounds: number };
  readonly failoverMs: readonly number[];
}

const NS = 'bench-speaker';

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** Per-reply round trips (µs) of `count` ARP requests from the client. */
export async function arpTimes(ip: string, count: number): Promise<number[]> {
  const out = await inNs(lab.clientNs, 'arping', ['-c', String(count), '-W', '0.02', '-i', 'eth0', ip], 60_000).catch((e: { stdout?: string }) => e.stdout ?? '');
  return [...out.matchAll(/time=([\d.]+) (usec|msec)/g)].map((m) => Number(m[1]) * (m[2] === 'msec' ? 1000 : 1));
}

async function iperf(target: string, port: number): Promise<number> {
  const out = await inNs(lab.clientNs, 'iperf3', ['-c', target, '-p', String(port), '-t', '3', '-J'], 30_000);
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e6;
}

/**
 * In the lab: ARP reply latency of a VIP (answered by the speaker) beside a
 * node's own address (answered by the kernel), iperf3 through the VIP beside
 * the same backend through NodeIP:NodePort, and kill -9 failover times.
 */
export async function benchSpeaker(kills = 10, arpSamples = 300): Promise<SpeakerBenchResult> {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  try {
    await kubectl(['create', 'namespace', 'barelb-system']).catch(() => undefined);
    await kubectl(['create', 'namespace', NS]);
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: barelb-system}\ndata:\n  config.yaml: |\n    pools:\n      - name: lan\n        addresses: [198.51.100.231-198.51.100.239]\n`);
    startController(t);
    const speakers = new Map<string, Proc>();
    for (const n of lab.nodes) speakers.set(n, startSpeaker(t, n));
    const node = lab.nodes[0] as string;
    startBackend(t, node, 8080, 'backend');
    startIn(t, lab.nodeNs(node), 'iperf3', ['-s', '-B', lab.nodeIp(node), '-p', '5201'], 'iperf3');
    await apply(serviceYaml({ name: 'web', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [node] }));
    await apply(serviceYaml({ name: 'iperf', namespace: NS, port: 5201, targetPort: 5201, endpointNodes: [node] }));
    const vip = await ingressIp(NS, 'web');
    const iperfVip = await ingressIp(NS, 'iperf');
    const holder = await eventually('a holder', 20_000, () => announcerOf(vip));
    await eventually('traffic', 20_000, () => fetchFromClient(`http://${vip}/`));

    // ARP: interleaved batches, so machine noise hits both alike.
    const vipTimes: number[] = [];
    const kernelTimes: number[] = [];
    for (let round = 0; round < 3; round++) {
      vipTimes.push(...(await arpTimes(vip, Math.ceil(arpSamples / 3))));
      kernelTimes.push(...(await arpTimes(lab.nodeIp(holder), Math.ceil(arpSamples / 3))));
    }

    // Throughput: the same backend through the VIP and directly through the NodePort.
    await eventually('iperf VIP announced', 20_000, () => announcerOf(iperfVip));
    const nodePort = Number(await kubectl(['get', 'svc', '-n', NS, 'iperf', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
    const viaVip: number[] = [];
    const viaNodePort: number[] = [];
    for (let round = 0; round < 3; round++) {
      viaVip.push(await iperf(iperfVip, 5201));
      viaNodePort.push(await iperf(lab.nodeIp(node), nodePort));
    }

    // Failover: kill -9 the holder, time until a request through the VIP succeeds from another node.
    const failoverMs: number[] = [];
    for (let i = 0; i < kills; i++) {
      const h = await eventually('a settled holder', 20_000, async () => {
        const cur = await announcerOf(vip);
        return cur && (await fetchFromClient(`http://${vip}/`, 1)) ? cur : undefined;
      });
      const oldMac = await macOf(h);
      const start = performance.now();
      await (speakers.get(h) as Proc).kill('SIGKILL');
      await eventually('service from another node', 30_000, async () => {
        const neigh = await inNs(lab.clientNs, 'ip', ['neigh', 'show', vip]);
        if (neigh.includes(oldMac)) return undefined;
        return (await fetchFromClient(`http://${vip}/`, 0.3)) ? true : undefined;
      }, 20);
      failoverMs.push(performance.now() - start);
      speakers.set(h, startSpeaker(t, h));
      await eventually('the restarted speaker', 20_000, async () =>
        (await inNs(lab.nodeNs(h), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']).catch(() => '')).includes('ok') ? true : undefined,
      );
    }
    return {
      arp: {
        vipMedianUs: median(vipTimes),
        vipP99Us: percentile(vipTimes, 99),
        kernelMedianUs: median(kernelTimes),
        kernelP99Us: percentile(kernelTimes, 99),
        samples: Math.min(vipTimes.length, kernelTimes.length),
      },
      throughput: { vipMbps: median(viaVip), nodePortMbps: median(viaNodePort), rounds: viaVip.length },
      failoverMs,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  }
}
