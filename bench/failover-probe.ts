/**
 * Run in the lab's client namespace during a failover: every `--interval` ms it sends a GET to the VIP on a
 * fresh connection (without waiting for the one before, so a request stuck on a dead MAC does not hide the
 * next), and follows the client's neighbour entry for the VIP: an IPv4 VIP's every 5 ms from /proc/net/arp;
 * an IPv6 VIP's (no such file for NDP) from `ip -6 monitor neigh`, each change as the kernel reports it. On SIGTERM it
 * prints what it saw as one JSON line: each response (or failure) and each change of the entry's MAC, with
 * times in ms since the epoch (performance.timeOrigin + now: comparable with the bench's own clock).
 *
 *   node failover-probe.js --url http://VIP/ --vip VIP [--interval 20] [--timeout 1000]
 *
 * testkit/traffic-generator.ts counts gaps and backends but keeps no times of changes, which is what a
 * failover time needs; hence this small prober.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { get } from '../testkit/traffic-generator.js';

export interface ProbeRequest {
  readonly sentAt: number;
  readonly doneAt: number;
  /** The node whose backend answered (externalTrafficPolicy Local: the node that took the traffic); undefined on failure. */
  readonly node: string | undefined;
}

export interface ProbeLog {
  readonly requests: ProbeRequest[];
  /** Each time the neighbour entry's MAC (or its absence, '') changed. */
  readonly neigh: { readonly at: number; readonly mac: string }[];
}

const now = (): number => performance.timeOrigin + performance.now();

function neighMac(vip: string): string {
  try {
    for (const line of readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // IP address, HW type, Flags (0x2: complete), HW address, Mask, Device
      if (f[0] === vip && f[2] === '0x2') return f[3] ?? '';
    }
  } catch {
    // no table: nothing known
  }
  return '';
}

/** The MAC of a line of `ip -6 neigh`: '' for an entry without a usable address (FAILED, INCOMPLETE) or deleted. */
function entryMac(line: string): string {
  const mac = /\blladdr ([0-9a-f:]{17})/.exec(line)?.[1];
  return line.startsWith('Deleted') || !mac || /\b(FAILED|INCOMPLETE)\b/.test(line) ? '' : mac;
}

/** Calls `onChange` with the VIP's neighbour MAC now and at every change; returns a stop function. */
function followNeigh(vip: string, onChange: (mac: string) => void): () => void {
  if (!vip.includes(':')) {
    onChange(neighMac(vip));
    const timer = setInterval(() => onChange(neighMac(vip)), 5);
    return () => clearInterval(timer);
  }
  const monitor = spawn('ip', ['-6', 'monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
  createInterface({ input: monitor.stdout }).on('line', (line) => {
    if (line.replace(/^Deleted /, '').split(' ')[0] === vip) onChange(entryMac(line));
  });
  onChange(entryMac(execFileSync('ip', ['-6', 'neigh', 'show', vip], { encoding: 'utf8' }).trim()));
  return () => monitor.kill();
}

function main(): void {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, vip: { type: 'string' }, interval: { type: 'string', default: '20' }, timeout: { type: 'string', default: '1000' } },
  });
  const url = values.url as string;
  const vip = values.vip as string;
  const log: ProbeLog = { requests: [], neigh: [] };
  let mac: string | undefined;
  const stopNeigh = followNeigh(vip, (m) => {
    if (m !== mac) log.neigh.push({ at: now(), mac: (mac = m) });
  });
  const reqTimer = setInterval(() => {
    const sentAt = now();
    get(url, Number(values.timeout)).then(
      (body) => log.requests.push({ sentAt, doneAt: now(), node: (JSON.parse(body) as { node?: string }).node }),
      () => log.requests.push({ sentAt, doneAt: now(), node: undefined }),
    );
  }, Number(values.interval));
  process.on('SIGTERM', () => {
    stopNeigh();
    clearInterval(reqTimer);
    process.stdout.write(`${JSON.stringify(log)}\n`, () => process.exit(0));
  });
  process.stdout.write('ready\n');
}

main();
