/**
 * What every chaos scenario starts from: the pool, the real controller, three
 * speakers with the manifests' RBAC, a backend per node, and helpers to watch
 * who answers ARP. Durations come from the environment (see `budget`).
 */
import type { Test } from 'tap';
import { familyOf, type IpFamily } from '../../src/net/ip.js';
import {
  createBarelbNamespaces,
  deleteNamespace,
  apply, arpHolder, arpingMacs, barelbConfigMap, eventually, fetchFromClient, ingressIp, kubectl, lab, ndiscMacs, serviceYaml, speakerKubeconfig, startBackend,
  settledHolder as settledHolderOnLan, speakerReady, startSpeaker, vipUrl, type Proc,
} from '../../testkit/lab.js';

const SHORT = process.env['BARELB_CHAOS'] === 'short';
const num = (name: string, full: number, short: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return SHORT ? short : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
};

/** BARELB_CHAOS=short is the CI version; each knob can also be set alone. */
export const budget = {
  killRounds: num('BARELB_CHAOS_KILL_ROUNDS', 10, 3),
  /** The same kill rounds on an IPv6 VIP; fewer in the short version (each round restarts a speaker, seconds on a busy machine). */
  killRounds6: num('BARELB_CHAOS_KILL_ROUNDS_V6', 10, 2),
  outageSeconds: num('BARELB_CHAOS_OUTAGE_SECONDS', 60, 20),
  burstServices: num('BARELB_CHAOS_BURST', 200, 50),
};

/**
 * The failover bound after a crash: peers declare the holder dead 400 ms (failure timeout) after its last
 * heartbeat, which is at most at the kill; the next decision tick (25 ms) takes over and sends gratuitous
 * ARP at once; the client's neighbour entry changes when it arrives; the generator's 500 ms timeout can add
 * up to one more request. About 1 s worst case on an idle machine; 2 s leaves room for a busy one (the
 * benchmark measures the distribution: docs/benchmarks.md).
 */
export const FAILOVER_BOUND_MS = 2_000;

export const POOL = 'lan';
export const POOL_RANGE = '198.51.100.200-198.51.100.250';
/** With `ipv6`, the pool also lists the lab's IPv6 VIP range: one pool may hold ranges of both families. */
export const poolConfig = (extra = '', ipv6 = false): string =>
  `pools:\n- name: ${POOL}\n  addresses: [${POOL_RANGE}${ipv6 ? `, ${lab.vipRange6}` : ''}]\n${extra}`;

export type Family = IpFamily;
/** How the client finds who holds an address of the family. */
export const protocolOf = (family: Family): 'ARP' | 'NDP' => (family === 'IPv4' ? 'ARP' : 'NDP');

/** The barelb ConfigMap with `config` as its config.yaml. */
export const configMapYaml = barelbConfigMap;

export interface ChaosLab {
  speakers: Map<string, Proc>;
  /** Restarts the speaker of `node` (its teardown belongs to the file) and waits until it is ready. */
  restartSpeaker(node: string): Promise<void>;
}

/**
 * Pool, speakers and backends in the lab, and a fresh namespace `ns`; the controller is each scenario's own business.
 * With `ipv6`, the pool has the lab's IPv6 range too and every node also runs a backend on its IPv6 address.
 */
export async function setupChaosLab(file: Test, ns: string, o: { ipv6?: boolean } = {}): Promise<ChaosLab> {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', ns]);
  file.teardown(async () => {
    await deleteNamespace(ns);
  });
  await kubectl(['apply', '-f', '-'], configMapYaml(poolConfig('', o.ipv6)));
  const sa = await speakerKubeconfig();
  const speakers = new Map<string, Proc>();
  for (const n of lab.nodes) {
    startBackend(file, n, 8080, `backend-${n}`);
    if (o.ipv6) startBackend(file, n, 8080, `backend-${n}`, lab.nodeIp6(n));
    speakers.set(n, startSpeaker(file, n, [], sa));
  }
  for (const n of lab.nodes) await speakerReady(n);
  return {
    speakers,
    restartSpeaker: async (node) => {
      speakers.set(node, startSpeaker(file, node, [], sa));
      await speakerReady(node);
    },
  };
}

// Generous (90 s): on a loaded machine a speaker's start (ip netns exec, node, the informers' first lists) can take long.
export { speakerReady };

/** Creates `names` as LoadBalancer Services of one family (IPv6: needs the IPv6 setup) with Endpoints on every node; their VIPs. */
export async function createServices(ns: string, names: string[], family: Family = 'IPv4'): Promise<string[]> {
  const families = family === 'IPv6' ? { ipFamilies: [family], ipFamilyPolicy: 'SingleStack' as const } : {};
  for (const name of names) await apply(serviceYaml({ name, namespace: ns, port: 80, targetPort: 8080, endpointNodes: lab.nodes, ...families }));
  const ips: string[] = [];
  for (const name of names) ips.push(await ingressIp(ns, name));
  return ips;
}

/** Until one request from the client through each of `ips` succeeds (kube-proxy may still be writing the rules). */
export async function servedFromClient(ips: string[]): Promise<void> {
  for (const url of urlsOf(ips)) await eventually(`a response through ${url}`, 20_000, () => fetchFromClient(url));
}

export { clientNeighbourMac as neighbourMac } from '../../testkit/lab.js';

/**
 * Waits until exactly one MAC answers ARP (NDP for IPv6) for `ip`; that node. Judged on the LAN alone: a node
 * cut off from the API server cannot correct its speaker Lease, and the client is what counts.
 */
export function settledHolder(ip: string, ms = 20_000): Promise<string> {
  return settledHolderOnLan(ip, ms);
}

/**
 * Samples ARP (NDP for IPv6 VIPs) for each VIP `rounds` times: every sample
 * must show exactly one MAC. The MACs seen per VIP, and any sample with another count.
 */
export async function arpSamples(ips: string[], rounds = 3): Promise<{ bad: string[]; macs: Map<string, Set<string>> }> {
  const bad: string[] = [];
  const macs = new Map<string, Set<string>>();
  for (let r = 0; r < rounds; r++) {
    for (const ip of ips) {
      const seen = familyOf(ip) === 'IPv6' ? await ndiscMacs(ip, 500) : await arpingMacs(ip, 3);
      if (seen.length !== 1) bad.push(`${ip} sample ${r}: ${seen.length ? seen.join(', ') : 'no answer'}`);
      for (const m of seen) macs.set(ip, (macs.get(ip) ?? new Set()).add(m));
    }
  }
  return { bad, macs };
}

/** Service name → its ingress IPs, for a namespace. */
export async function serviceIps(ns: string): Promise<Map<string, string[]>> {
  const list = JSON.parse(await kubectl(['get', 'services', '-n', ns, '-o', 'json'])) as {
    items: { metadata: { name: string }; status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }[];
  };
  return new Map(list.items.map((s) => [s.metadata.name, (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean)]));
}

/** Who answers ARP (NDP) for each of `ips`, as the client sees it (undefined: none, or more than one). */
export async function holders(ips: string[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (const ip of ips) out.push(await arpHolder(ip));
  return out;
}

/** http://VIP/, an IPv6 VIP in brackets. */
export const urlOf = vipUrl;
export const urlsOf = (ips: string[]): string[] => ips.map(vipUrl);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
