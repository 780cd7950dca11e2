/**
 * The lab seen from TypeScript, for the e2e suites and the benchmarks. They run inside the lab's control-plane namespace (see
 * scripts/with-lab.sh), so the API server is local and every other lab host
 * is reached through `ip netns exec`. Everything a test starts it stops by
 * PID in teardown, also on failure.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
/** Anything that runs cleanups at its end: a tap Test, or a benchmark's own list. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}
import { childEnv, eventually, runKubectl, serviceAccountKubeconfig } from './support.js';
import { isLive, readSpeakerLease, type SpeakerLeaseView } from '../src/election/speaker-lease.js';
import { SPEAKER_LEASE_NAMESPACE } from '../src/names.js';

const run = promisify(execFile);

/** The repository root, from the source file or its compiled copy under dist/. */
function findRoot(dir: string): string {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) if (existsSync(path.join(d, 'package.json'))) return d;
  throw new Error(`no package.json above ${dir}`);
}

export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e suite through \`npm run test:e2e\`, which builds the lab`);
  return v;
}

export const lab = {
  get kubeconfig() {
    return env('KUBECONFIG');
  },
  get clientNs() {
    return env('BARELB_LAB_CLIENT_NETNS');
  },
  get clientIp() {
    return env('BARELB_LAB_CLIENT_IP');
  },
  get nodes(): string[] {
    return env('BARELB_LAB_NODES').trim().split(/\s+/);
  },
  nodeNs(node: string): string {
    return env('BARELB_LAB_NODE_NETNS').trim().split(/\s+/)[lab.nodes.indexOf(node)] as string;
  },
  nodeIp(node: string): string {
    return env('BARELB_LAB_NODE_IPS').trim().split(/\s+/)[lab.nodes.indexOf(node)] as string;
  },
  /** The lab is dual-stack: each host also has an IPv6 address on eth0, in `subnet6` (a /64 of 2001:db8::/32). */
  nodeIp6(node: string): string {
    return env('BARELB_LAB_NODE_IPS6').trim().split(/\s+/)[lab.nodes.indexOf(node)] as string;
  },
  get clientIp6() {
    return env('BARELB_LAB_CLIENT_IP6');
  },
  get cpIp6() {
    return env('BARELB_LAB_CP_IP6');
  },
  /** `2001:db8:…::/64`, the IPv6 LAN (IPv4: BARELB_LAB_SUBNET). */
  get subnet6() {
    return env('BARELB_LAB_SUBNET6');
  },
  /** `FIRST-LAST` in `subnet6`, free for IPv6 VIPs (IPv4: BARELB_LAB_VIP_RANGE). */
  get vipRange6() {
    return env('BARELB_LAB_VIP_RANGE6');
  },
  get switchNs() {
    return env('BARELB_LAB_SWITCH_NETNS');
  },
  get cpDir() {
    return path.join(env('BARELB_LAB_DIR'), 'cp');
  },
  /** The API server's address and port in the lab. */
  get apiServer(): { host: string; port: string } {
    return { host: env('BARELB_CP_HOST'), port: env('BARELB_CP_PORT') };
  },
};

/**
 * Deletes a node's eth0 and makes a new one the way scripts/lab.sh wired it (a veth to the switch, same
 * addresses): the same name and addresses, a new kernel interface (index). The namespace's IPv6 defaults
 * (no DAD, no RAs, forwarding) set by lab.sh apply to the new link too.
 */
export async function recreateNodeLink(node: string): Promise<void> {
  const ns = lab.nodeNs(node);
  const port = `n${node.replace(/^node/, '')}`;
  await run('ip', ['-n', ns, 'link', 'del', 'eth0']);
  await run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', lab.switchNs]);
  await run('ip', ['-n', lab.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', `${lab.nodeIp(node)}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'addr', 'add', `${lab.nodeIp6(node)}/64`, 'dev', 'eth0', 'nodad']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
}

/** Runs a command in a lab namespace; resolves with stdout, rejects with stderr. */
export async function inNs(ns: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20, env: childEnv() });
  return stdout;
}

export function kubectl(args: string[], input?: string): Promise<string> {
  return runKubectl(lab.kubeconfig, args, input);
}

/** barelb's namespaces as the manifests make them: the programs' own, and the speakers' Leases'. */
export async function createBarelbNamespaces(): Promise<void> {
  for (const ns of ['barelb-system', SPEAKER_LEASE_NAMESPACE]) await kubectl(['create', 'namespace', ns]).catch(() => undefined);
}

/**
 * Deletes a test's namespace and waits until it is gone: the next file in the same lab must not see its
 * Services (they still hold pool addresses until then).
 */
export async function deleteNamespace(ns: string): Promise<void> {
  await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--timeout=90s']).catch(() => undefined);
}

export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Where the output of processes the tests start is kept (.lab/test-logs), for a look after a failure. */
export const LOG_DIR = path.join(ROOT, '.lab', 'test-logs');
let logSeq = 0;

function capture(child: ChildProcess, label: string): () => string {
  mkdirSync(LOG_DIR, { recursive: true });
  const file = createWriteStream(path.join(LOG_DIR, `${process.pid}-${String(logSeq++).padStart(2, '0')}-${label}.log`));
  let out = '';
  const take = (d: Buffer): void => {
    out += d.toString();
    file.write(d);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  child.on('exit', () => file.end());
  return () => out;
}

/** Starts a long-running process; stopped by PID in teardown (SIGTERM, then SIGKILL). Used by the integration suite too. */
export function startTracked(t: Teardown, cmd: string, args: string[], label: string, env?: Record<string, string>): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) });
  const output = capture(child, label);
  const exited = once(child, 'exit');
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  // SIGTERM first, as Kubernetes stops a Pod: a speaker deletes its Lease on the way out, so the next test
  // file does not read a live-looking Lease of a process that is gone. SIGKILL if it does not exit in 5 s.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
    await kill('SIGTERM');
    clearTimeout(hard);
  });
  return { child, output, kill };
}

/** Starts a long-running process in a lab namespace (ip netns exec keeps the PID); stopped by PID in teardown. */
export function startIn(t: Teardown, ns: string, cmd: string, args: string[], label = ns, env?: Record<string, string>): Proc {
  return startTracked(t, 'ip', ['netns', 'exec', ns, cmd, ...args], label, env);
}

/**
 * `barelb speaker` on a lab node, as the manifests' speaker ServiceAccount once `speakerKubeconfig()` has run.
 * `env`: more environment, e.g. libfaketime's LD_PRELOAD and FAKETIME (a preload, not the `faketime`
 * wrapper, which does not pass SIGTERM on: the speaker stays the process the test started and stops).
 */
export function startSpeaker(t: Teardown, node: string, extra: string[] = [], kubeconfig = lab.kubeconfig, env?: Record<string, string>): Proc {
  const args = [CLI, 'speaker', '--node', node, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:7473', ...extra];
  return startIn(t, lab.nodeNs(node), process.execPath, args, `speaker-${node}`, env);
}

/** `barelb controller` here, in the control-plane namespace. */
export function startController(t: Teardown, extra: string[] = []): Proc {
  return startTracked(t, process.execPath, [CLI, 'controller', '--kubeconfig', lab.kubeconfig, '--metrics-addr', '127.0.0.1:7472', ...extra], 'controller');
}

/** An HTTP backend on `node`'s address (IPv4 unless `host` says another) answering JSON: its name, node and the client's address. */
export function startBackend(t: Teardown, node: string, port: number, name: string, host = lab.nodeIp(node)): Proc {
  const script = `require('http').createServer((q,s)=>s.end(JSON.stringify({name:${JSON.stringify(name)},node:${JSON.stringify(node)},client:q.socket.remoteAddress})+'\\n')).listen(${port},${JSON.stringify(host)})`;
  return startIn(t, lab.nodeNs(node), process.execPath, ['-e', script], `backend-${node}${host.includes(':') ? '-v6' : ''}`);
}

export { eventually };

/** MACs that answered `count` ARP requests for `ip` from the client. */
export async function arpingMacs(ip: string, count = 3): Promise<string[]> {
  let out = '';
  try {
    out = await inNs(lab.clientNs, 'arping', ['-c', String(count), '-w', '3', '-W', '0.2', '-i', 'eth0', ip], 10_000);
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
  }
  return [...new Set([...out.matchAll(/from ([0-9a-f:]{17})/g)].map((m) => m[1] as string))];
}

/**
 * MACs that answered an IPv6 neighbor solicitation for `ip` from the client, within `waitMs` (ndisc6 -m:
 * every answer, not just the first), lower case as macOf gives them. The IPv6 counterpart of arpingMacs.
 */
export async function ndiscMacs(ip: string, waitMs = 1000): Promise<string[]> {
  let out = '';
  try {
    out = await inNs(lab.clientNs, 'ndisc6', ['-m', '-q', '-n', '-r', '1', '-w', String(waitMs), ip, 'eth0'], waitMs + 5000);
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
  }
  return [...new Set([...out.matchAll(/\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/gi)].map((m) => (m[1] as string).toLowerCase()))];
}

export async function macOf(node: string): Promise<string> {
  const out = await inNs(lab.nodeNs(node), 'cat', ['/sys/class/net/eth0/address']);
  return out.trim();
}

/** The node that answers ARP for `ip` as the client sees it, when exactly one MAC answers: the LAN's truth. */
/** The node answering ARP (IPv4) or NDP (IPv6) for `ip` from the client, when exactly one MAC does. */
export async function arpHolder(ip: string): Promise<string | undefined> {
  const macs = ip.includes(':') ? await ndiscMacs(ip, 500) : await arpingMacs(ip, 2);
  if (macs.length !== 1) return undefined;
  for (const n of lab.nodes) if ((await macOf(n)) === macs[0]) return n;
  return undefined;
}

/** One HTTP GET from the client; the backend's JSON answer, or undefined on failure. */
export async function fetchFromClient(url: string, timeoutS = 1): Promise<{ name: string; node: string; client: string } | undefined> {
  try {
    // -g: an IPv6 literal's brackets are not a curl glob.
    const out = await inNs(lab.clientNs, 'curl', ['-s', '-g', '--max-time', String(timeoutS), url], (timeoutS + 2) * 1000);
    return JSON.parse(out) as { name: string; node: string; client: string };
  } catch {
    return undefined;
  }
}

export async function apply(yaml: string): Promise<void> {
  await kubectl(['apply', '-f', '-'], yaml);
}

/** The barelb ConfigMap (`barelb-config` in barelb-system) with `config` (YAML) as its config.yaml. */
export function barelbConfigMap(config: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: barelb-system}\ndata:\n  config.yaml: |\n${config.replace(/^/gm, '    ')}`;
}

export async function applyBarelbConfig(config: string): Promise<void> {
  await apply(barelbConfigMap(config));
}

/** A selector-less Service (LoadBalancer unless `type` says otherwise) with Endpoints on the given nodes (backends listen on NODEIP:targetPort). */
export function serviceYaml(o: {
  name: string;
  namespace: string;
  port: number;
  targetPort: number;
  endpointNodes: string[];
  annotations?: Record<string, string>;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  type?: 'LoadBalancer' | 'NodePort';
  /** Default: the API server's (IPv4 first, SingleStack). Endpoints list the nodes' addresses of these families. */
  ipFamilies?: ('IPv4' | 'IPv6')[];
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
}): string {
  const families = o.ipFamilies ?? ['IPv4'];
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: o.name, namespace: o.namespace, annotations: o.annotations ?? {} },
    spec: {
      type: o.type ?? 'LoadBalancer',
      externalTrafficPolicy: o.externalTrafficPolicy ?? 'Cluster',
      ports: [{ name: 'http', port: o.port, targetPort: o.targetPort, protocol: 'TCP' }],
      ...(o.ipFamilies ? { ipFamilies: o.ipFamilies } : {}),
      ...(o.ipFamilyPolicy ? { ipFamilyPolicy: o.ipFamilyPolicy } : {}),
    },
  };
  const ep = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: o.name, namespace: o.namespace },
    subsets: o.endpointNodes.length
      ? [
          {
            addresses: families.flatMap((f) => o.endpointNodes.map((n) => ({ ip: f === 'IPv4' ? lab.nodeIp(n) : lab.nodeIp6(n), nodeName: n }))),
            ports: [{ name: 'http', port: o.targetPort, protocol: 'TCP' }],
          },
        ]
      : [],
  };
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [svc, ep] });
}

/**
 * Waits until kube-proxy on every node serves a NodePort Service created now, then deletes it: a
 * suite should measure barelb, not kube-proxy catching up (after an API server outage its watches
 * back off for a while). Needs a backend on `backendPort` of every node.
 */
export async function kubeProxiesCurrent(namespace: string, backendPort: number): Promise<void> {
  const name = `kube-proxy-probe-${process.pid}`;
  await apply(serviceYaml({ name, namespace, port: 80, targetPort: backendPort, endpointNodes: lab.nodes, type: 'NodePort' }));
  const nodePort = await eventually('the probe NodePort', 10_000, async () =>
    Number(await kubectl(['get', 'svc', '-n', namespace, name, '-o', 'jsonpath={.spec.ports[0].nodePort}'])) || undefined,
  );
  for (const n of lab.nodes) {
    await eventually(`kube-proxy on ${n} to serve a new Service`, 60_000, () => fetchFromClient(`http://${lab.nodeIp(n)}:${nodePort}/`));
  }
  await kubectl(['delete', 'svc', '-n', namespace, name, '--wait=false']);
}

export async function ingressIp(namespace: string, name: string): Promise<string> {
  return eventually(`${namespace}/${name} to get an address`, 60_000, async () => {
    const out = await kubectl(['get', 'service', '-n', namespace, name, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    return out.trim() || undefined;
  });
}

/** Every address in the Service's status, once there are `count` (a dual-stack Service has two). */
export async function ingressIps(namespace: string, name: string, count: number): Promise<string[]> {
  return eventually(`${namespace}/${name} to get ${count} addresses`, 60_000, async () => {
    const out = await kubectl(['get', 'service', '-n', namespace, name, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);
    const ips = out.trim().split(/\s+/).filter((x) => x !== '');
    return ips.length >= count ? ips : undefined;
  });
}

/** `http://IP/` for either family (an IPv6 literal in brackets). */
export function vipUrl(ip: string): string {
  return ip.includes(':') ? `http://[${ip}]/` : `http://${ip}/`;
}

/** Waits until `node`'s speaker answers /readyz. */
export async function speakerReady(node: string, timeoutMs = 90_000): Promise<void> {
  await eventually(`the speaker on ${node} to be ready`, timeoutMs, async () =>
    (await inNs(lab.nodeNs(node), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']).catch(() => '')).includes('ok') ? true : undefined,
  );
}

/**
 * The node answering for `ip` once exactly one MAC does (ARP, or NDP for IPv6). Judged on the LAN: a speaker
 * killed with kill -9 leaves its Lease behind until it expires, and the client is what counts.
 */
export async function settledHolder(ip: string, timeoutMs = 15_000): Promise<string> {
  return eventually(`one node to answer for ${ip}`, timeoutMs, () => arpHolder(ip));
}

/**
 * The usual start of an e2e file: barelb's namespaces and `namespace`, the ConfigMap with `pool`, the
 * controller, a backend on port 8080 of every node (with kube-proxy serving), and unless `speakers` is
 * false a speaker on every node with exactly the RBAC of manifests/speaker-rbac.yaml, each ready. Everything
 * started ends with `t`.
 */
export async function startLab(t: Teardown, o: { namespace: string; pool: string; speakers?: boolean }): Promise<Map<string, Proc>> {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', o.namespace]);
  await applyBarelbConfig(o.pool);
  startController(t);
  const saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) startBackend(t, n, 8080, `backend-${n}`);
  await kubeProxiesCurrent(o.namespace, 8080);
  const speakers = new Map<string, Proc>();
  if (o.speakers === false) return speakers;
  for (const n of lab.nodes) speakers.set(n, startSpeaker(t, n, [], saConfig));
  for (const n of lab.nodes) await speakerReady(n);
  return speakers;
}

/** Milliseconds from the action until a request through `ip` succeeds with the client's neighbour entry off `oldMac`. */
export async function timeUntilServedElsewhere(ip: string, oldMac: string, action: () => Promise<void>): Promise<number> {
  const start = Date.now();
  await action();
  await eventually(`${ip} to be served by another node`, 20_000, async () => {
    if ((await clientNeighbourMac(ip)) === oldMac) return undefined;
    return (await fetchFromClient(vipUrl(ip), 0.3)) ? true : undefined;
  }, 20);
  return Date.now() - start;
}

/** The client's neighbour entry for `ip` (ARP or NDP): its MAC, if it has one. */
export async function clientNeighbourMac(ip: string): Promise<string | undefined> {
  const out = await inNs(lab.clientNs, 'ip', ['neigh', 'show', ip]);
  return /lladdr ([0-9a-f:]{17})/.exec(out)?.[1];
}

/**
 * The node whose live speaker Lease says it announces `ip` (`barelb.io/announces`), when exactly one does.
 * Speakers publish within about a second of a change; for the moment of a failover, ask the LAN (arpingMacs).
 */
export async function announcerOf(ip: string): Promise<string | undefined> {
  try {
    const now = Date.now();
    const nodes = (await speakerLeases()).flatMap((v) => (isLive(v, now) && v.announces.includes(ip) ? [v.node] : []));
    return nodes.length === 1 ? nodes[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Every speaker Lease in the lab, read back. */
export async function speakerLeases(): Promise<SpeakerLeaseView[]> {
  const out = await kubectl(['get', 'leases', '-n', SPEAKER_LEASE_NAMESPACE, '-o', 'json']);
  const items = (JSON.parse(out) as { items: Parameters<typeof readSpeakerLease>[0][] }).items;
  return items.flatMap((l) => readSpeakerLease(l) ?? []);
}

/** The sum of a metric's samples on a node whose labels include `labels` (e.g. 'reason="replay"'; '' for all). */
export async function metricOfLabel(node: string, name: string, labels: string): Promise<number> {
  const text = await inNs(lab.nodeNs(node), 'curl', ['-s', 'http://127.0.0.1:7473/metrics']);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`)) || !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Heartbeat frames dropped for `reason` (e.g. 'replay', 'other-cluster'), summed over every lab node. */
export async function heartbeatsDropped(reason: string): Promise<number> {
  let sum = 0;
  for (const n of lab.nodes) sum += await metricOfLabel(n, 'barelb_heartbeats_dropped_total', `reason="${reason}"`);
  return sum;
}

export function metricOf(node: string, name: string): Promise<number> {
  return metricOfLabel(node, name, '');
}

let speakerConfig: Promise<string> | undefined;

/**
 * A kubeconfig for the speakers with exactly the RBAC of manifests/speaker-rbac.yaml
 * (applied to barelb-system here), so the e2e runs prove those permissions suffice.
 */
export function speakerKubeconfig(): Promise<string> {
  speakerConfig ??= (async () => {
    await createBarelbNamespaces();
    await kubectl(['apply', '-f', path.join(ROOT, 'manifests/speaker-rbac.yaml')]);
    // The heartbeat key, as an operator may create it (README); where the controller runs first, it has.
    await kubectl(['create', 'secret', 'generic', 'barelb-heartbeat-key', '-n', 'barelb-system', `--from-literal=key=${randomBytes(24).toString('base64')}`]).catch(() => undefined);
    return serviceAccountKubeconfig(kubectl, mkdtempSync(path.join(os.tmpdir(), 'barelb-e2e-')), 'barelb-system', 'barelb-speaker');
  })();
  return speakerConfig;
}
