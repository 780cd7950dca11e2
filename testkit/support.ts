/** Helpers shared by the integration and e2e suites. */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(what: string, ms: number, check: () => Promise<T | undefined>, pauseMs = 150): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Real kubectl against `kubeconfig`; resolves with stdout, rejects with stderr less kubectl's version-skew warnings. */
export async function runKubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const child = execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 });
  if (input !== undefined) child.stdin?.end(input);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'close')) as [number];
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${code}): ${err.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n')}`);
  return out;
}

/**
 * A kubeconfig that authenticates as a ServiceAccount, with the token its
 * token controller put in a Secret: runs a program with exactly the RBAC a
 * manifest grants. Written to `dir`; returns its path.
 */
export async function serviceAccountKubeconfig(
  kubectl: (args: string[]) => Promise<string>,
  dir: string,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const token = await eventually(`a token for ${namespace}/${serviceAccount}`, 30_000, async () => {
    const secrets = JSON.parse(await kubectl(['get', 'secrets', '-n', namespace, '-o', 'json'])) as {
      items: { type: string; metadata: { annotations?: Record<string, string> }; data?: { token?: string } }[];
    };
    const s = secrets.items.find(
      (i) => i.type === 'kubernetes.io/service-account-token' && i.metadata.annotations?.['kubernetes.io/service-account.name'] === serviceAccount,
    );
    return s?.data?.token ? Buffer.from(s.data.token, 'base64').toString() : undefined;
  });
  const view = JSON.parse(await kubectl(['config', 'view', '--minify', '-o', 'json'])) as { clusters: { cluster: { server: string } }[] };
  const file = path.join(dir, `${serviceAccount}.kubeconfig`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: view.clusters[0]?.cluster.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: serviceAccount } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  return file;
}

/**
 * The environment for programs a test starts: the test's own, without tap's process-tracking hook. That
 * hook (NODE_OPTIONS --import of @tapjs/processinfo) costs each Node process seconds of CPU at start; with
 * a controller, three speakers and three backends starting at once on two cores, start-up went past 20 s.
 */
export function childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  for (const k of Object.keys(env)) if (k.startsWith('_TAPJS_PROCESSINFO_')) delete env[k];
  return env;
}
