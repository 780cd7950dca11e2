import path from 'node:path';
import { ROOT, eventually, lab, startIn, startTracked, type Teardown } from '../testkit/lab.js';
import type { CaptureResult } from './heartbeat-capture.js';
import { percentile, progress, sleepMs, speakerEach } from './lab-probes.js';

const CAPTURE = path.join(ROOT, 'dist/bench/heartbeat-capture.js');

export interface IntervalStats {
  readonly rounds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface JitterResult {
  readonly seconds: number;
  readonly quietSeconds: number;
  /** What saturated the CPUs. */
  readonly load: string;
  /** Per node, heartbeat intervals as the client namespace received them: quiet, then under load. */
  readonly quiet: Readonly<Record<string, IntervalStats>>;
  readonly loaded: Readonly<Record<string, IntervalStats>>;
  /** Summed over the speakers during the loaded window. */
  readonly takeovers: number;
  readonly stalls: number;
  readonly announcedBefore: Readonly<Record<string, number>>;
  readonly announcedAfter: Readonly<Record<string, number>>;
  readonly loadAvgDuring: number;
}

function stats(c: CaptureResult): Record<string, IntervalStats> {
  return Object.fromEntries(Object.entries(c.intervals).map(([node, xs]) => [node, { rounds: xs.length, p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99), maxMs: Math.max(...xs) }]));
}

async function capture(t: Teardown, seconds: number, during?: () => Promise<unknown>): Promise<CaptureResult> {
  // At nice -10, so the capture's own scheduling delays inflate what it measures less than the speakers' (nice 0).
  const p = startIn(t, lab.clientNs, 'nice', ['-n', '-10', process.execPath, CAPTURE], 'heartbeat-capture');
  await eventually('the heartbeat capture', 20_000, async () => (p.output().includes('ready') ? true : undefined), 50);
  await Promise.all([sleepMs(seconds * 1000), during?.()]);
  await p.kill('SIGTERM');
  return JSON.parse(p.output().trim().split('\n').pop() ?? '{}') as CaptureResult;
}

/**
 * Heartbeat intervals from every speaker, received in the client's namespace: `quietSeconds` as the
 * baseline, then `seconds` with every CPU saturated by stress-ng (one worker per CPU); and whether any
 * address moved meanwhile (takeovers, stalls, what each node announces).
 */
export async function benchJitter(seconds: number, quietSeconds: number): Promise<JitterResult> {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  try {
    progress('jitter', `quiet capture, ${quietSeconds} s`);
    const quiet = await capture(t, quietSeconds);
    const take0 = await speakerEach('barelb_takeovers_total');
    const stall0 = await speakerEach('barelb_stalls_total');
    const before = await speakerEach('barelb_addresses_announced');
    progress('jitter', `stress-ng --cpu 0 for ${seconds} s`);
    let loadAvg = 0;
    const loaded = await capture(t, seconds, async () => {
      const stress = startTracked(t, 'stress-ng', ['--cpu', '0', '--timeout', `${seconds}s`, '--quiet'], 'stress-ng');
      await sleepMs((seconds * 1000) / 2);
      loadAvg = (await import('node:os')).loadavg()[0] as number;
      await new Promise((r) => stress.child.once('exit', r));
    });
    await sleepMs(1000);
    const take1 = await speakerEach('barelb_takeovers_total');
    const stall1 = await speakerEach('barelb_stalls_total');
    const after = await speakerEach('barelb_addresses_announced');
    const sumDelta = (a: Map<string, number>, b: Map<string, number>): number => lab.nodes.reduce((s, n) => s + ((b.get(n) ?? 0) - (a.get(n) ?? 0)), 0);
    return {
      seconds,
      quietSeconds,
      load: 'stress-ng --cpu 0 (one busy worker per CPU)',
      quiet: stats(quiet),
      loaded: stats(loaded),
      takeovers: sumDelta(take0, take1),
      stalls: sumDelta(stall0, stall1),
      announcedBefore: Object.fromEntries(before),
      announcedAfter: Object.fromEntries(after),
      loadAvgDuring: loadAvg,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
