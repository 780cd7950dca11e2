import { performance } from 'node:perf_hooks';
import { Allocator, type AddressRequest } from '../src/ipam/allocator.js';
import { IpRange } from '../src/net/ip-range.js';

export interface AllocatorResult {
  readonly pool: string;
  readonly size: number;
  readonly nsPerOp: number;
}

function request(i: number): AddressRequest {
  return { key: `ns/svc-${i}`, namespace: 'ns', labels: {}, pool: undefined, requestedIps: [], families: ['IPv4'], familyPolicy: 'SingleStack', sharingKey: undefined, ports: ['TCP/80'] };
}

/**
 * Cost of one release + assign in a pool kept 99.9% full (the slow case for a
 * scan-from-the-start allocator), for pools of growing size, interleaved in
 * rounds so machine noise hits every size alike.
 */
export function benchAllocator(rounds = 5, opsPerRound = 20_000): AllocatorResult[] {
  const cidrs = ['198.51.100.0/24', '10.0.0.0/20', '10.0.0.0/16'];
  const setups = cidrs.map((cidr) => {
    const range = IpRange.parse(cidr);
    const alloc = new Allocator([{ name: 'p', ranges: [range], autoAssign: true, avoidBuggyIPs: false, namespaces: [], serviceSelector: undefined }]);
    const size = Number(range.size);
    const keep = size - Math.max(1, Math.floor(size / 1000));
    for (let i = 0; i < keep; i++) alloc.assign(request(i));
    return { cidr, size, alloc, held: keep, ns: [] as number[] };
  });
  let seed = 42;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let r = 0; r < rounds; r++) {
    for (const s of setups) {
      const start = performance.now();
      for (let op = 0; op < opsPerRound; op++) {
        const victim = rand(s.held);
        s.alloc.release(`ns/svc-${victim}`);
        const res = s.alloc.assign(request(victim));
        if (!res.ok) throw new Error(`assign failed in ${s.cidr}: ${res.error.message}`);
      }
      s.ns.push(((performance.now() - start) * 1e6) / opsPerRound);
    }
  }
  return setups.map((s) => ({ pool: s.cidr, size: s.size, nsPerOp: median(s.ns) }));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
