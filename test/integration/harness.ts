/**
 * Shared by the integration suites: the real control plane started by
 * `scripts/control-plane.sh up` (KUBECONFIG points at it), real kubectl, and
 * the real `barelb` CLI run as a child process. Everything a test starts it
 * stops by PID in teardown, also on failure.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import type { Test } from 'tap';
import { startTracked } from '../../testkit/lab.js';
import { childEnv, eventually, runKubectl } from '../../testkit/support.js';
import { ANNOTATION } from '../../src/names.js';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

export function kubeconfigPath(): string {
  const p = process.env['KUBECONFIG'];
  if (!p) throw new Error('KUBECONFIG is not set: run the integration suite through `npm run test:integration`, which starts the control plane');
  return p;
}

export function coreApi(): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc.makeApiClient(CoreV1Api);
}

export function kubectl(args: string[], input?: string): Promise<string> {
  return runKubectl(kubeconfigPath(), args, input);
}

export async function apply(yaml: string): Promise<void> {
  await kubectl(['apply', '-f', '-'], yaml);
}

let seq = 0;
/** A name unique to this run and file, usable as a namespace. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${(seq++).toString(36)}`;
}

/** Creates namespaces and deletes them (waiting) in teardown. */
export async function namespaces(t: Test, ...names: string[]): Promise<void> {
  for (const n of names) await kubectl(['create', 'namespace', n]);
  t.teardown(async () => {
    await kubectl(['delete', 'namespace', ...names, '--wait=true', '--timeout=120s', '--ignore-not-found']).catch(() => undefined);
  });
}

export function configMapYaml(namespace: string, config: string, name = 'barelb-config'): string {
  const indented = config.split('\n').map((l) => `    ${l}`).join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: ${namespace}}\ndata:\n  config.yaml: |\n${indented}\n`;
}

export interface ServiceSpec {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: { port: number; protocol?: string }[];
  loadBalancerIP?: string;
  type?: string;
}

export function serviceYaml(s: ServiceSpec): string {
  const obj = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace, annotations: s.annotations ?? {}, labels: s.labels ?? {} },
    spec: {
      type: s.type ?? 'LoadBalancer',
      ports: (s.ports ?? [{ port: 80 }]).map((p) => ({ name: `p${p.port}-${(p.protocol ?? 'TCP').toLowerCase()}`, port: p.port, protocol: p.protocol ?? 'TCP' })),
      ...(s.loadBalancerIP ? { loadBalancerIP: s.loadBalancerIP } : {}),
    },
  };
  return JSON.stringify(obj);
}

export async function createServices(specs: ServiceSpec[]): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: specs.map((s) => JSON.parse(serviceYaml(s)) as unknown) };
  await kubectl(['create', '-f', '-'], JSON.stringify(list));
}

export async function getService(namespace: string, name: string): Promise<V1Service> {
  return JSON.parse(await kubectl(['get', 'service', '-n', namespace, name, '-o', 'json'])) as V1Service;
}

export function ingressIps(svc: V1Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

/** A Service's addresses and the pool barelb recorded them from (its allocated-from-pool annotation). */
export async function addressesOf(namespace: string, name: string): Promise<{ ips: string[]; pool: string | undefined }> {
  const svc = await getService(namespace, name);
  return { ips: ingressIps(svc), pool: svc.metadata?.annotations?.[ANNOTATION.allocatedFromPool] };
}

/** addressesOf, once the Service has an address (within 30 s). */
export async function assigned(namespace: string, name: string): Promise<{ ips: string[]; pool: string | undefined }> {
  return eventually(`${namespace}/${name} to get an address`, 30_000, async () => {
    const r = await addressesOf(namespace, name);
    return r.ips.length > 0 ? r : undefined;
  });
}

/** name -> ingress IPs, for every Service in a namespace. */
export async function serviceIps(namespace: string): Promise<Map<string, string[]>> {
  const list = JSON.parse(await kubectl(['get', 'services', '-n', namespace, '-o', 'json'])) as { items: V1Service[] };
  return new Map(list.items.map((s) => [s.metadata?.name ?? '', ingressIps(s)]));
}

export interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  count?: number;
}

export async function eventsFor(namespace: string, kind: string, name: string): Promise<KubeEvent[]> {
  const out = await kubectl([
    'get', 'events', '-n', namespace, '-o', 'json',
    '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`,
  ]);
  return (JSON.parse(out) as { items: KubeEvent[] }).items;
}

export { eventually };

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  return port;
}

export interface RunningController {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  logs(): string;
  /** Parsed JSON log lines. */
  logLines(): Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<void>;
  metric(name: string): Promise<number | undefined>;
}

/** Starts `barelb controller` against the test control plane; stopped by PID in teardown. */
export async function startController(t: Test, args: string[], opts: { env?: Record<string, string> } = {}): Promise<RunningController> {
  const port = await freePort();
  const { child, output, kill } = startTracked(
    t,
    process.execPath,
    [CLI, 'controller', '--kubeconfig', kubeconfigPath(), '--metrics-addr', `127.0.0.1:${port}`, ...args],
    'controller',
    opts.env,
  );
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const handle: RunningController = {
    child,
    metricsUrl,
    logs: output,
    logLines: () =>
      output().split('\n').flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    kill,
    metric: async (name) => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
  };
  // Start-up only, not a measured bound: on a busy 2-core machine a Node process can take many seconds.
  await eventually('controller to serve /healthz', 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`controller exited ${child.exitCode}: ${output()}`);
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return r.ok ? true : undefined;
  });
  return handle;
}

export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: childEnv() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
