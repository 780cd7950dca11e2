/**
 * What every chaos scenario starts from: the pool, the real controller, three
 * speakers with the manifests' RBAC, a backend per node, and helpers to watch
 * who answers ARP. Durations come from the environment (see `budget`).
 */
import type { Test } from 'tap';
import {
  createBarelbNamespaces,
  deleteNamespace,
  apply, arpHolder, arpingMacs, eventually, inNs, ingressIp, kubectl, lab, serviceYaml, speakerKubeconfig, startBackend, startSpeaker,
  type Proc,
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
export const poolConfig = (extra = ''): string => `pools:\n- name: ${POOL}\n  addresses: [${POOL_RANGE}]\n${extra}`;

export function configMapYaml(config: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: barelb-system}\ndata:\n  config.yaml: |\n${config.replace(/^/gm, '    ')}`;
}

export interface ChaosLab {
  speakers: Map<string, Proc>;
  /** Restarts the speaker of `node` (its teardown belongs to the file) and waits until it is ready. */
  restartSpeaker(node: string): Promise<void>;
}

/** Pool, speakers and backends in the lab, and a fresh namespace `ns`; the controller is each scenario's own business. */
export async function setupChaosLab(file: Test, ns: string): Promise<ChaosLab> {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', ns]);
  file.teardown(async () => {
    await deleteNamespace(ns);
  });
  await kubectl(['apply', '-f', '-'], configMapYaml(poolConfig()));
  const sa = await speakerKubeconfig();
  const speakers = new Map<string, Proc>();
  for (const n of lab.nodes) {
    startBackend(file, n, 8080, `backend-${n}`);
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

/** Generous: on a loaded machine a speaker's start (ip netns exec, node, the informers' first lists) can take long. */
export async function speakerReady(node: string): Promise<void> {
  await eventually(`the speaker on ${node} to be ready`, 90_000, async () =>
    (await inNs(lab.nodeNs(node), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']).catch(() => '')).includes('ok') ? true : undefined,
  );
}

/** Creates `names` as LoadBalancer Services with Endpoints on every node; their VIPs. */
export async function createServices(ns: string, names: string[]): Promise<string[]> {
  for (const name of names) await apply(serviceYaml({ name, namespace: ns, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ips: string[] = [];
  for (const name of names) ips.push(await ingressIp(ns, name));
  return ips;
}

export { clientNeighbourMac as neighbourMac } from '../../testkit/lab.js';

/**
 * Waits until exactly one MAC answers ARP for `ip`; that node. Judged on the LAN alone: a node cut off from
 * the API server cannot correct its speaker Lease, and the client is what counts.
 */
export async function settledHolder(ip: string, ms = 20_000): Promise<string> {
  return eventually(`one node to answer ARP for ${ip}`, ms, () => arpHolder(ip));
}

/**
 * Samples ARP for each VIP `rounds` times: every sample must show exactly one
 * MAC. The MACs seen per VIP, and any sample with another count.
 */
export async function arpSamples(ips: string[], rounds = 3): Promise<{ bad: string[]; macs: Map<string, Set<string>> }> {
  const bad: string[] = [];
  const macs = new Map<string, Set<string>>();
  for (let r = 0; r < rounds; r++) {
    for (const ip of ips) {
      const seen = await arpingMacs(ip, 3);
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

/** Who answers ARP for each of `ips`, as the client sees it (undefined: none, or more than one). */
export async function holders(ips: string[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (const ip of ips) out.push(await arpHolder(ip));
  return out;
}

export const urlsOf = (ips: string[]): string[] => ips.map((ip) => `http://${ip}/`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
