import t from 'tap';
import fc from 'fast-check';
import { readRequest } from '../../src/controller/service-request.js';
import type { PoolSpec } from '../../src/config/types.js';
import { pool } from '../fixtures.js';
import { Cluster, type Spec } from './cluster.js';

// Services change under a controller that reconciles each change, and pools
// are edited and leaders restart in between. Whatever the order, the
// addresses the cluster shows must stay sound and a kept address must stay put.

const SERVICES = 5;
const name = (i: number): string => `s${i}`;
const key = (i: number): string => `default/${name(i)}`;

interface PoolGen {
  name: 'p0' | 'p1';
  block: 0 | 1;
  first: number;
  last: number;
}

const toSpecs = (ps: readonly PoolGen[]): PoolSpec[] => ps.map((p) => pool(p.name, [`10.0.${p.block}.${p.first}-10.0.${p.block}.${p.last}`]));

/** 0-2 pools on distinct blocks of six addresses, any subrange of each: edits grow, shrink, remove and rename them. */
const poolsGen: fc.Arbitrary<PoolGen[]> = fc
  .shuffledSubarray([0, 1] as const)
  .chain((blocks) =>
    fc.tuple(
      ...blocks.map((block) =>
        fc.record({ name: fc.constantFrom('p0' as const, 'p1' as const), block: fc.constant(block), first: fc.nat(5), last: fc.nat(5) }),
      ),
    ),
  )
  .map((ps) => {
    const seen = new Set<string>();
    return ps
      .filter((p) => !seen.has(p.name) && seen.add(p.name))
      .map((p) => ({ ...p, first: Math.min(p.first, p.last), last: Math.max(p.first, p.last) }));
  });

const portsGen = fc.subarray(['TCP/80', 'UDP/80', 'TCP/443', 'TCP/8080'], { minLength: 1 });
const sharingKeyGen = fc.constantFrom(undefined, 'k', 'k', 'j');
const poolNameGen = fc.constantFrom(undefined, undefined, 'p0', 'p1');
const requestedGen = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.constantFrom('10.0.0.0', '10.0.0.2', '10.0.1.1', '192.168.9.9'), weight: 1 },
);

/** What an edit of a Service that does not exist yet starts from: Cluster's defaults, spelled out for the checks. */
const NEW: Spec = { ports: ['TCP/80'] };

const specGen: fc.Arbitrary<Spec> = fc.record({ ports: portsGen, sharingKey: sharingKeyGen, pool: poolNameGen, requestedIps: requestedGen });

/** One field of a Service's spec changing. */
const changeGen: fc.Arbitrary<Partial<Spec>> = fc.oneof(
  portsGen.map((ports) => ({ ports })),
  sharingKeyGen.map((sharingKey) => ({ sharingKey })),
  poolNameGen.map((pool) => ({ pool })),
  requestedGen.map((requestedIps) => ({ requestedIps })),
);

type Op =
  | { op: 'put'; svc: number; spec: Spec }
  | { op: 'edit'; svc: number; change: Partial<Spec> }
  | { op: 'delete'; svc: number }
  | { op: 'setPools'; pools: PoolGen[] }
  | { op: 'restart' };

const svcGen = fc.nat(SERVICES - 1);
const opGen: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('put' as const), svc: svcGen, spec: specGen }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('edit' as const), svc: svcGen, change: changeGen }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), svc: svcGen }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('setPools' as const), pools: poolsGen }), weight: 2 },
  { arbitrary: fc.constant({ op: 'restart' as const }), weight: 1 },
);

const shown = (c: Cluster): Map<string, string> => new Map([...c.views].map(([k, v]) => [k, [...v.ingressIps].sort().join(',')]));

/** Services whose addresses answer their request as it stands: nothing but their own change may move them. */
function settled(c: Cluster): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of c.views) {
    const a = c.alloc.assignmentOf(k);
    if (a && v.ingressIps.length > 0 && c.alloc.satisfies(readRequest(v).request, a)) out.add(k);
  }
  return out;
}

/** Whether `spec` may sit on each of `ips` beside the Services showing them now. */
function fits(c: Cluster, specs: ReadonlyMap<string, Spec>, self: string, spec: Spec, ips: readonly string[]): boolean {
  return [...c.views]
    .filter(([k, v]) => k !== self && v.ingressIps.some((x) => ips.includes(x)))
    .every(([k]) => {
      const o = specs.get(k) as Spec;
      return spec.sharingKey !== undefined && spec.sharingKey === o.sharingKey && !(spec.ports ?? []).some((p) => (o.ports ?? []).includes(p));
    });
}

/** The first broken invariant, or undefined. */
function check(c: Cluster, specs: ReadonlyMap<string, Spec>): string | undefined {
  const byIp = new Map<string, string[]>();
  for (const [k, v] of c.views) {
    const held = (c.alloc.assignmentOf(k)?.ips ?? []).map(String).sort().join(',');
    if (held !== [...v.ingressIps].sort().join(',')) return `${k} shows [${v.ingressIps}] but the allocator says [${held}]`;
    for (const x of v.ingressIps) byIp.set(x, [...(byIp.get(x) ?? []), k]);
  }
  for (const [x, holders] of byIp) {
    for (const [i, a] of holders.entries()) {
      for (const b of holders.slice(i + 1)) {
        const sa = specs.get(a) as Spec;
        const sb = specs.get(b) as Spec;
        if (sa.sharingKey === undefined || sa.sharingKey !== sb.sharingKey) return `${x} shown by ${a} (key ${sa.sharingKey}) and ${b} (key ${sb.sharingKey})`;
        const both = (sa.ports ?? []).filter((p) => (sb.ports ?? []).includes(p));
        if (both.length > 0) return `${x} shown by ${a} and ${b}, both on ${both.join(', ')}`;
      }
    }
  }
  return undefined;
}

function run(initial: PoolGen[], ops: readonly Op[]): void {
  const c = new Cluster(toSpecs(initial));
  const specs = new Map<string, Spec>();
  for (const [n, o] of ops.entries()) {
    const step = `step ${n} ${JSON.stringify(o)}`;
    const before = shown(c);
    const kept = settled(c);
    const fromBefore = new Map([...c.views].map(([k, v]) => [k, v.annotations['barelb.io/allocated-from-pool']]));
    let mayMove: string | undefined;
    if (o.op === 'put' || o.op === 'edit') {
      const k = key(o.svc);
      const spec = o.op === 'put' ? o.spec : { ...(specs.get(k) ?? NEW), ...o.change };
      const ips = c.views.get(k)?.ingressIps ?? [];
      // only the ports or the sharing key changed, and the others on its addresses may still share them with it
      const reasserted = o.op === 'edit' && kept.has(k) && !('pool' in o.change) && !('requestedIps' in o.change) && fits(c, specs, k, spec, ips);
      specs.set(k, spec);
      c.put(name(o.svc), spec);
      if (reasserted && shown(c).get(k) !== before.get(k)) throw new Error(`${step}: ${k} moved from ${before.get(k)} to ${shown(c).get(k)} though it may keep its address`);
      mayMove = k;
    } else if (o.op === 'delete') {
      specs.delete(key(o.svc));
      c.delete(name(o.svc));
      mayMove = key(o.svc);
    } else if (o.op === 'setPools') {
      c.setPools(toSpecs(o.pools));
    } else {
      c.restart();
    }
    const after = shown(c);
    for (const k of kept) {
      if (k === mayMove) continue;
      if (after.get(k) !== before.get(k)) throw new Error(`${step}: ${k} moved from ${before.get(k)} to ${after.get(k)}`);
      if (c.views.get(k)?.annotations['barelb.io/allocated-from-pool'] !== fromBefore.get(k)) throw new Error(`${step}: ${k}'s allocated-from-pool changed`);
    }
    const broken = check(c, specs);
    if (broken) throw new Error(`${step}: ${broken}`);
    // a resync (what a restart or a config edit does to every Service) moves nobody that is settled
    const settledNow = settled(c);
    const beforeResync = shown(c);
    c.reconcileAll();
    for (const k of settledNow) if (shown(c).get(k) !== beforeResync.get(k)) throw new Error(`${step}: resync moved ${k} from ${beforeResync.get(k)} to ${shown(c).get(k)}`);
    const brokenAfter = check(c, specs);
    if (brokenAfter) throw new Error(`${step}, resync: ${brokenAfter}`);
  }
}

const P0: PoolGen = { name: 'p0', block: 0, first: 0, last: 5 };

t.test('Service updates, pool edits and restarts keep every address sound and every kept address in place (property)', async (t) => {
  fc.assert(
    fc.property(poolsGen, fc.array(opGen, { minLength: 1, maxLength: 25 }), (pools, ops) => run(pools, ops)),
    {
      numRuns: 400,
      includeErrorInReport: true,
      // issue 12's two reports, always tried first
      examples: [
        [
          [P0],
          [
            { op: 'put', svc: 0, spec: { sharingKey: 'k', ports: ['TCP/80'] } },
            { op: 'edit', svc: 0, change: { ports: ['TCP/8080'] } },
            { op: 'put', svc: 1, spec: { sharingKey: 'k', ports: ['TCP/8080'] } },
          ],
        ],
        [
          [P0],
          [
            { op: 'put', svc: 0, spec: { pool: 'p0' } },
            { op: 'setPools', pools: [{ ...P0, first: 1 }] },
          ],
        ],
        // found by this property: a Service adopted from status, then named a renamed pool, moved when that
        // pool stopped covering its address
        [
          [{ name: 'p0', block: 0, first: 0, last: 0 }],
          [
            { op: 'edit', svc: 3, change: { ports: ['TCP/8080'] } },
            { op: 'setPools', pools: [{ name: 'p1', block: 0, first: 0, last: 0 }] },
            { op: 'put', svc: 3, spec: { ports: ['TCP/8080'], sharingKey: undefined, pool: 'p1', requestedIps: undefined } },
            { op: 'setPools', pools: [{ name: 'p1', block: 1, first: 0, last: 0 }] },
            { op: 'edit', svc: 0, change: { requestedIps: undefined } },
          ],
        ],
      ],
    },
  );
  t.pass('400 random histories kept the invariants');
});
