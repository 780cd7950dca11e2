/** What the speaker benchmarks read from the lab: the API server's counters, processes' cost, speakers' metrics, ARP. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { familyOf } from '../src/net/ip.js';
import { ROOT, eventually, inNs, kubectl, lab, macOf, metricOf, ndiscMacs, speakerReady as speakerReadyIn, vipUrl, type Proc } from '../testkit/lab.js';
import { median } from './allocator.js';

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Wall-clock ms with sub-ms resolution, comparable across processes on this machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** Per-reply round trips (µs) of `count` ARP requests from the client. */
export async function arpTimes(ip: string, count: number): Promise<number[]> {
  const out = await inNs(lab.clientNs, 'arping', ['-c', String(count), '-W', '0.02', '-i', 'eth0', ip], 60_000).catch((e: { stdout?: string }) => e.stdout ?? '');
  return [...out.matchAll(/time=([\d.]+) (usec|msec)/g)].map((m) => Number(m[1]) * (m[2] === 'msec' ? 1000 : 1));
}

export interface ArpSample {
  readonly vipMedianUs: number;
  readonly vipP99Us: number;
  readonly kernelMedianUs: number;
  readonly kernelP99Us: number;
  /** Requests sent to each. */
  readonly samples: number;
  /** Replies the VIP got. */
  readonly vipReplies: number;
}

/** Per-reply round trips (µs) of `count` questions for `ip` from the client. */
export type ReplyTimes = (ip: string, count: number) => Promise<number[]>;

/**
 * Round trips for each pair of `pairs`, [VIP (answered by a speaker), a node's own address (answered by its
 * kernel)], `samples` questions to each address in 3 batches, every address's batch in turn each time, so
 * machine noise hits all alike. Per pair undefined if either address never answered.
 */
export async function repliesInterleaved(pairs: readonly (readonly [string, string])[], samples: number, times: ReplyTimes): Promise<(ArpSample | undefined)[]> {
  const per = Math.ceil(samples / 3);
  const seen = pairs.map(() => [[] as number[], [] as number[]] as const);
  for (let round = 0; round < 3; round++) {
    for (const [i, pair] of pairs.entries()) for (const j of [0, 1] as const) seen[i]?.[j].push(...(await times(pair[j], per)));
  }
  return seen.map(([v, k]) =>
    v.length === 0 || k.length === 0
      ? undefined
      : { vipMedianUs: median(v), vipP99Us: percentile(v, 99), kernelMedianUs: median(k), kernelP99Us: percentile(k, 99), samples: per * 3, vipReplies: v.length },
  );
}

/**
 * ARP round trips for `vip` (answered by a speaker) beside `kernelIp` (a node's own address, answered by
 * the kernel), in interleaved batches so machine noise hits both alike. Undefined if either never answered.
 */
export async function arpInterleaved(vip: string, kernelIp: string, samples: number): Promise<ArpSample | undefined> {
  return (await repliesInterleaved([[vip, kernelIp]], samples, arpTimes))[0];
}

const NEIGHBOUR_PROBE = path.join(ROOT, 'dist/bench/neighbour-probe.js');

/**
 * Round trips (µs) of `count` questions for `ip` from the client, timed by bench/neighbour-probe.ts: a
 * Neighbor Solicitation for an IPv6 address, an ARP request for an IPv4 one, one every 20 ms.
 */
export async function probeTimes(ip: string, count: number): Promise<number[]> {
  const out = await inNs(lab.clientNs, process.execPath, [
    NEIGHBOUR_PROBE, '--src-ip6', lab.clientIp6, '--src-ip4', lab.clientIp, '--count', String(count), '--gap', '20', '--timeout', '100', ip,
  ], 120_000);
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { times?: number[] }).times ?? [];
}

/** The one MAC that answered a single ARP request for `ip` from the client, waiting up to 100 ms ('' when none answered). */
export async function arpOnce(ip: string): Promise<string> {
  const out = await inNs(lab.clientNs, 'arping', ['-c', '1', '-w', '1', '-W', '0.1', '-i', 'eth0', ip], 10_000).catch((e: { stdout?: string }) => e.stdout ?? '');
  const macs = [...new Set([...out.matchAll(/from ([0-9a-f:]{17})/g)].map((m) => m[1] as string))];
  return macs.length === 1 ? (macs[0] as string) : macs.length > 1 ? 'several' : '';
}

/** The one MAC that answered a single Neighbor Solicitation for `ip` from the client within 100 ms; '' or 'several' as arpOnce. */
export async function ndpOnce(ip: string): Promise<string> {
  const macs = await ndiscMacs(ip, 100);
  return macs.length === 1 ? (macs[0] as string) : macs.length > 1 ? 'several' : '';
}

/** arpOnce or ndpOnce, by the family of `ip`. */
export const neighbourOnce = (ip: string): Promise<string> => (familyOf(ip) === 'IPv6' ? ndpOnce(ip) : arpOnce(ip));

/** http://IP/, an IPv6 address in brackets. */
export const urlOf = vipUrl;

/** node → its eth0 MAC, and back. */
export async function nodeMacs(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of lab.nodes) out.set(await macOf(n), n);
  return out;
}

/**
 * Lease writes the API server has answered since it started, from its own /metrics (all codes): this
 * version labels them by HTTP verb (POST, PUT, PATCH); newer ones say create, update, patch.
 */
export async function apiLeaseWrites(): Promise<number> {
  const text = await kubectl(['get', '--raw', '/metrics']);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('resource="leases"')) continue;
    const verb = /verb="(\w+)"/.exec(line)?.[1]?.toLowerCase();
    if (verb !== undefined && ['post', 'put', 'patch', 'create', 'update'].includes(verb)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** A metric summed over all speakers (a speaker that does not answer counts as NaN). */
export async function speakerSum(metric: string): Promise<number> {
  const xs = await Promise.all(lab.nodes.map((n) => metricOf(n, metric).catch(() => NaN)));
  return xs.reduce((a, b) => a + b, 0);
}

/** The metric per node; NaN where the speaker does not answer. */
export async function speakerEach(metric: string): Promise<Map<string, number>> {
  const xs = await Promise.all(lab.nodes.map((n) => metricOf(n, metric).catch(() => NaN)));
  return new Map(lab.nodes.map((n, i) => [n, xs[i] as number]));
}

export function procStatus(pid: number): { hwmKiB: number; rssKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
}

/** utime + stime of a process, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/**
 * The PID of the node process itself: startSpeaker runs `ip netns exec NS node ...`, and ip netns exec
 * execs into the command, so the child's PID is the speaker's; checked through /proc/<pid>/cmdline.
 */
export function speakerPid(p: Proc): number {
  const pid = p.child.pid as number;
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  if (!cmd.includes('speaker')) throw new Error(`PID ${pid} is not a speaker: ${cmd.replace(/\0/g, ' ')}`);
  return pid;
}

export function speakerReady(node: string, timeoutMs = 60_000): Promise<void> {
  return speakerReadyIn(node, timeoutMs);
}

/** Until every speaker hears the two others on every interface it announces on. */
export async function peersSettled(timeoutMs = 30_000): Promise<void> {
  await eventually('every speaker to hear its peers', timeoutMs, async () => {
    const live = await speakerEach('barelb_peers_live');
    return [...live.values()].every((v) => v >= lab.nodes.length - 1) ? true : undefined;
  }, 250);
}

export const progress = (section: string, msg: string): void => console.error(`[${section} ${new Date().toISOString().slice(11, 19)}] ${msg}`);
