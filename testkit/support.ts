/** Helpers shared by the integration and e2e suites. */
import { execFile } from 'node:child_process';
import { once } from 'node:events';

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
