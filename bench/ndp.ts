import type { IpFamily } from '../src/net/ip.js';
import { apply, eventually, fetchFromClient, ingressIp, kubectl, lab, serviceYaml, type Teardown } from '../testkit/lab.js';
import { neighbourOnce, nodeMacs, probeTimes, progress, repliesInterleaved, speakerSum, urlOf, type ArpSample } from './lab-probes.js';
import { failoverOnce, startSpeakerLab, type FailoverKind, type FailoverLab, type FailoverRun } from './speaker.js';

type Family = IpFamily;

export interface NdpBenchResult {
  /** VIPs per family. */
  readonly perFamily: number;
  /** Neighbor Solicitations: an IPv6 VIP beside its holder's own IPv6 address. */
  readonly ndp: ArpSample | undefined;
  /** ARP requests, by the same prober in the same batches: an IPv4 VIP beside its holder's own IPv4 address. */
  readonly arp: ArpSample | undefined;
  readonly failovers: Readonly<Record<Family, readonly FailoverRun[]>>;
  readonly kinds: readonly FailoverKind[];
}

const NS = 'bench-ndp';
/**
 * On the lab LAN but apart from the speaker section's pool (198.51.100.200-249): in a full run its Services
 * may still hold those addresses while their namespace is being deleted.
 */
const POOL4 = '198.51.100.160-198.51.100.179';
const FAMILIES = ['IPv4', 'IPv6'] as const;

/**
 * In the dual-stack lab, `perFamily` IPv4 and as many IPv6 VIPs (externalTrafficPolicy Local): NDP reply
 * latency of an IPv6 VIP beside its holder's kernel answering for its own IPv6 address, and ARP likewise, all
 * timed by one prober (bench/neighbour-probe.ts) in the same interleaved batches; then failover of IPv4 and
 * IPv6 VIPs after kill -9 and SIGTERM of the holder, the families taking turns run by run.
 */
export async function benchNdp(o: { runs: number; samples: number; perFamily: number; kinds: readonly FailoverKind[] }): Promise<NdpBenchResult> {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  const say = (m: string): void => progress('ndp', m);
  try {
    const { speakers, start } = await startSpeakerLab(t, NS, [POOL4, lab.vipRange6], true);
    const name = (family: Family, i: number): string => `web${family === 'IPv4' ? 4 : 6}-${i}`;
    const items = FAMILIES.flatMap((family) =>
      Array.from({ length: o.perFamily }, (_, i) =>
        serviceYaml({ name: name(family, i), namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, externalTrafficPolicy: 'Local', ipFamilies: [family], ipFamilyPolicy: 'SingleStack' }),
      ),
    ).flatMap((y) => (JSON.parse(y) as { items: unknown[] }).items);
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const ips = 2 * o.perFamily;
    say(`waiting for ${ips} IPs to be announced`);
    await eventually(`all ${ips} IPs announced`, 120_000, async () => ((await speakerSum('barelb_addresses_announced')) === ips ? true : undefined), 500);
    const vips: Record<Family, string[]> = { IPv4: [], IPv6: [] };
    for (const family of FAMILIES) for (let i = 0; i < o.perFamily; i++) vips[family].push(await ingressIp(NS, name(family, i)));
    const macs = await nodeMacs();
    const holderOf = async (vip: string): Promise<string> =>
      eventually(`a holder of ${vip} that serves`, 30_000, async () => {
        const node = macs.get(await neighbourOnce(vip));
        return node && (await fetchFromClient(urlOf(vip))) ? node : undefined;
      }, 250);

    say('NDP and ARP latency');
    const [vip6, vip4] = [vips.IPv6[0] as string, vips.IPv4[0] as string];
    const [holder6, holder4] = [await holderOf(vip6), await holderOf(vip4)];
    const [ndp, arp] = await repliesInterleaved([[vip6, lab.nodeIp6(holder6)], [vip4, lab.nodeIp(holder4)]], o.samples, probeTimes);
    say(`NDP median ${ndp?.vipMedianUs.toFixed(0)} µs (kernel ${ndp?.kernelMedianUs.toFixed(0)} µs), ARP median ${arp?.vipMedianUs.toFixed(0)} µs (kernel ${arp?.kernelMedianUs.toFixed(0)} µs)`);

    const failovers: Record<Family, FailoverRun[]> = { IPv4: [], IPv6: [] };
    const f: FailoverLab = { t, speakers, start, macs, say };
    for (const kind of o.kinds) {
      for (let i = 0; i < o.runs; i++) {
        for (const family of FAMILIES) {
          const run = await failoverOnce(f, kind, vips[family][i % o.perFamily] as string, `${family} ${i + 1}/${o.runs}`);
          if (run) failovers[family].push(run);
        }
      }
    }
    return { perFamily: o.perFamily, ndp, arp, failovers, kinds: o.kinds };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  }
}
