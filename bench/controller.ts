import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

export interface ControllerBenchResult {
  readonly services: number;
  /** A bare client loop: N sequential status merge patches. */
  readonly bareStatusWritesMs: number;
  /** From the pool appearing in the ConfigMap to every pending Service showing an EXTERNAL-IP. */
  readonly controllerAssignMs: number;
  /** Creating N Services (8 concurrent creators), no controller involved. */
  readonly createOnlyMs: number;
  /** N Services created (8 concurrent creators) with the controller running, until all show an EXTERNAL-IP. */
  readonly createAndAssignMs: number;
}

export async function withConcurrency<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

async function createServices(core: CoreV1Api, namespace: string, count: number, prefix: string): Promise<void> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await withConcurrency(names, 8, (name) =>
    core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } } }),
  );
}

async function waitAllAssigned(core: CoreV1Api, namespace: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const list = await core.listNamespacedService({ namespace });
    const done = list.items.filter((s: V1Service) => (s.status?.loadBalancer?.ingress ?? []).length > 0).length;
    if (done >= count) return;
    if (performance.now() > deadline) throw new Error(`only ${done} of ${count} assigned after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The baseline for assignment: `writes` sequential status merge patches by a bare client loop, over the
 * Services `prefix`-0 .. `prefix`-(services - 1) (round robin). Returns the elapsed ms.
 */
export async function bareStatusWrites(core: CoreV1Api, namespace: string, writes: number, services: number, prefix: string): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < writes; i++) {
    await core.patchNamespacedServiceStatus(
      { name: `${prefix}-${i % services}`, namespace, body: { status: { loadBalancer: { ingress: [{ ip: `10.200.${(i >> 8) & 255}.${i & 255}` }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
  return performance.now() - start;
}

function configMap(namespace: string, withPool: boolean): object {
  return {
    metadata: { name: 'barelb-config', namespace },
    data: { 'config.yaml': withPool ? 'pools:\n  - name: bench\n    addresses: [10.100.0.0/16]\n' : 'pools: []\n' },
  };
}

export async function deleteNamespaceAndWait(core: CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
  for (;;) {
    try {
      await core.readNamespace({ name });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function benchController(kubeconfig: string, count = 1000): Promise<ControllerBenchResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const tag = Date.now().toString(36);
  const [nsBare, nsCfg, nsPending, nsBurst] = ['bare', 'cfg', 'pending', 'burst'].map((n) => `bench-${n}-${tag}`) as [string, string, string, string];
  for (const ns of [nsBare, nsCfg, nsPending, nsBurst]) await core.createNamespace({ body: { metadata: { name: ns } } });

  // Baselines, before any controller runs: creating N Services, then what the API
  // server allows one client writing their status one by one.
  const createStart = performance.now();
  await createServices(core, nsBare, count, 'b');
  const createOnlyMs = performance.now() - createStart;
  const bareStatusWritesMs = await bareStatusWrites(core, nsBare, count, count, 'b');
  await deleteNamespaceAndWait(core, nsBare);

  await core.createNamespacedConfigMap({ namespace: nsCfg, body: configMap(nsCfg, false) });
  const child = spawn(process.execPath, [CLI, 'controller', '--kubeconfig', kubeconfig, '--namespace', nsCfg, '--no-leader-elect', '--metrics-addr', '', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    // N pending Services, then the pool appears: the controller's own throughput.
    await createServices(core, nsPending, count, 'p');
    await new Promise((r) => setTimeout(r, 3000));
    const assignStart = performance.now();
    await core.replaceNamespacedConfigMap({ name: 'barelb-config', namespace: nsCfg, body: configMap(nsCfg, true) });
    await waitAllAssigned(core, nsPending, count, 300_000);
    const controllerAssignMs = performance.now() - assignStart;

    // N new Services created while the controller runs, until every one shows an EXTERNAL-IP.
    const burstStart = performance.now();
    await createServices(core, nsBurst, count, 's');
    await waitAllAssigned(core, nsBurst, count, 300_000);
    const createAndAssignMs = performance.now() - burstStart;
    return { services: count, bareStatusWritesMs, controllerAssignMs, createOnlyMs, createAndAssignMs };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    // Gone before anything else is measured: a cluster still deleting 2,000 Services is not a quiet one.
    for (const ns of [nsCfg, nsPending, nsBurst]) await deleteNamespaceAndWait(core, ns);
  }
}
