/**
 * Starts testkit/traffic-generator.ts (compiled) in the lab's client namespace
 * and reads its counters through its control port there.
 */
import path from 'node:path';
import { ROOT, eventually, inNs, lab, startIn, type Proc, type Teardown } from './lab.js';
import type { TrafficStats } from './traffic-generator.js';

export type { TargetStats, TrafficStats } from './traffic-generator.js';

const GENERATOR = path.join(ROOT, 'dist/testkit/traffic-generator.js');

export interface Traffic {
  readonly proc: Proc;
  stats(): Promise<TrafficStats>;
  /** Closes the current window (its stats are returned) and starts a new one. */
  reset(): Promise<TrafficStats>;
  add(urls: string[]): Promise<void>;
  /** Stops the generator; the final stats it printed. */
  stop(): Promise<TrafficStats>;
}

export interface TrafficOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /** Loopback port in the client namespace for the control endpoint. */
  controlPort?: number;
}

export async function startTraffic(t: Teardown, urls: string[], o: TrafficOptions = {}): Promise<Traffic> {
  const control = `http://127.0.0.1:${o.controlPort ?? 7480}`;
  const proc = startIn(t, lab.clientNs, process.execPath, [
    GENERATOR, '--control', `127.0.0.1:${o.controlPort ?? 7480}`, '--interval', String(o.intervalMs ?? 50), '--timeout', String(o.timeoutMs ?? 500), ...urls,
  ], 'traffic');
  const call = async (method: 'GET' | 'POST', route: string, body?: string): Promise<TrafficStats> => {
    const args = ['-sf', '--max-time', '5', '-X', method, `${control}${route}`];
    if (body !== undefined) args.push('--data-binary', body);
    return JSON.parse(await inNs(lab.clientNs, 'curl', args)) as TrafficStats;
  };
  await eventually('the traffic generator to listen', 10_000, () => call('GET', '/stats').catch(() => undefined), 100);
  return {
    proc,
    stats: () => call('GET', '/stats'),
    reset: () => call('POST', '/reset'),
    add: async (more) => void (await call('POST', '/targets', JSON.stringify(more))),
    stop: async () => {
      await proc.kill('SIGTERM');
      const last = proc.output().trim().split('\n').pop() ?? '{}';
      return JSON.parse(last) as TrafficStats;
    },
  };
}

/** Sums over targets: requests, failures, and the longest gap of any. */
export function totals(s: TrafficStats): { requests: number; failures: number; longestGapMs: number } {
  const all = Object.values(s.targets);
  return {
    requests: all.reduce((n, x) => n + x.requests, 0),
    failures: all.reduce((n, x) => n + x.failures, 0),
    longestGapMs: Math.max(0, ...all.map((x) => x.longestGapMs)),
  };
}

/** One line per target for a test's comments. */
export function describeTraffic(s: TrafficStats): string {
  return Object.entries(s.targets)
    .map(([url, x]) => `${url}: ${x.requests} requests, ${x.failures} failed ${JSON.stringify(x.errors)}, longest gap ${x.longestGapMs} ms, backends ${JSON.stringify(x.backends)}`)
    .join('\n');
}
