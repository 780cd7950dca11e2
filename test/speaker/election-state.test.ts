import t from 'tap';
import fc from 'fast-check';
import type { LeaseRecord } from '../../src/election/lease-observation.js';
import {
  IpElection,
  InvalidElectionConfigError,
  type ElectionAction,
  type ElectionConfig,
  type ElectionDecision,
  type ElectionInput,
} from '../../src/speaker/election-state.js';
import { rankCandidates } from '../../src/speaker/rendezvous.js';

// ---------------------------------------------------------------------------
// scenario helpers: lease 10 s, renew every 2 s, stagger 0.5 s; candidates a (rank 0), b (1), c (2)

const CFG: ElectionConfig = { leaseDurationMs: 10_000, renewIntervalMs: 2_000, staggerMs: 500 };
const rec = (holder: string | undefined, version: string, durationSeconds = 10): LeaseRecord => ({ holder, version, durationSeconds });
const inp = (nowMs: number, lease: LeaseRecord | undefined, extra: Partial<ElectionInput> = {}): ElectionInput => ({
  lease,
  apiReachable: true,
  eligible: true,
  candidates: ['a', 'b', 'c'],
  nowMs,
  ...extra,
});
const wait = (untilMs: number): ElectionAction => ({ kind: 'wait', untilMs });
/** Announcing until `untilMs` (Infinity: degraded, until further news). */
const on = (action: ElectionAction, untilMs: number): ElectionDecision => ({ announce: true, announceUntilMs: untilMs, degraded: untilMs === Infinity, action });
const off = (action: ElectionAction): ElectionDecision => ({ announce: false, announceUntilMs: Infinity, degraded: false, action });
const ACQUIRE: ElectionAction = { kind: 'acquire' };
const RENEW: ElectionAction = { kind: 'renew' };
const RELEASE: ElectionAction = { kind: 'release' };

/** `a` creates the Lease at 0 (answered at 40) and the stream shows it as version 1. */
function holderA(): IpElection {
  const e = new IpElection('a', CFG);
  e.decide(inp(0, undefined));
  e.onAcquired(40);
  e.decide(inp(60, rec('a', '1')));
  return e;
}

// ---------------------------------------------------------------------------
// scenarios, one rule each

t.test('rank 0 takes a missing Lease at once, announces once the write is answered, renews every interval', async (t) => {
  const e = new IpElection('a', CFG);
  t.same(e.decide(inp(0, undefined)), off(ACQUIRE), 'acquire at once; not announcing before the answer');
  t.same(e.decide(inp(10, undefined)), off(wait(Infinity)), 'nothing else while the write is out');
  e.onAcquired(40);
  t.same(e.decide(inp(40, undefined)), on(wait(2_000), 10_000), 'announces; renews an interval after the write was sent');
  t.same(e.decide(inp(60, rec('a', '1'))), on(wait(2_000), 10_000), 'the stream catches up');
  t.same(e.decide(inp(2_000, rec('a', '1'))), on(RENEW, 10_000));
  e.onRenewed(2_030);
  t.same(e.decide(inp(2_030, rec('a', '1'))), on(wait(4_000), 12_000), 'the stream may lag behind its own renewal');
  t.same(e.decide(inp(2_050, rec('a', '2'))), on(wait(4_000), 12_000));
  t.ok(e.holds);
});

t.test('a write dropped before it was sent (the Lease changed while it waited) is decided again on the new record', async (t) => {
  const e = new IpElection('a', CFG);
  t.same(e.decide(inp(0, undefined)), off(ACQUIRE), 'the Lease is missing: acquire');
  t.same(e.decide(inp(5, undefined)), off(wait(Infinity)), 'waiting for that write');
  e.onDropped();
  t.same(e.decide(inp(10, rec('b', '1'))), off(wait(10_011)), 'b took it meanwhile: wait for it to expire, nothing sent');
  t.notOk(e.holds);
});

t.test('rank n waits n × stagger after the Lease became free', async (t) => {
  for (const [node, rank] of [['a', 0], ['b', 1], ['c', 2]] as const) {
    const e = new IpElection(node, CFG);
    e.decide(inp(0, rec('x', '5')));
    const turn = 3_000 + rank * 500;
    const first = e.decide(inp(3_000, rec(undefined, '6')));
    if (rank === 0) {
      t.same(first, off(ACQUIRE), 'rank 0: at once on release');
      continue;
    }
    t.same(first, off(wait(turn)), `rank ${rank}: waits until ${turn}`);
    t.same(e.decide(inp(turn - 1, rec(undefined, '6'))), off(wait(turn)), `rank ${rank}: not a millisecond early`);
    t.same(e.decide(inp(turn, rec(undefined, '6'))), off(ACQUIRE), `rank ${rank}: tries at its turn`);
  }
});

t.test('expiry is judged by the local clock since the record last changed, with the record\'s own duration', async (t) => {
  const b = new IpElection('b', CFG);
  t.same(b.decide(inp(100, rec('x', '5'))), off(wait(10_601)), 'free after 10 s unchanged, then rank 1 waits 0.5 s');
  t.same(b.decide(inp(10_600, rec('x', '5'))), off(wait(10_601)));
  t.same(b.decide(inp(10_601, rec('x', '5'))), off(ACQUIRE));

  const a = new IpElection('a', CFG);
  a.decide(inp(100, rec('x', '5')));
  t.same(a.decide(inp(8_000, rec('x', '6'))), off(wait(18_001)), 'a renewal restarts the clock');
  t.same(a.decide(inp(18_000, rec('x', '6'))), off(wait(18_001)), 'still held at exactly the duration');
  t.same(a.decide(inp(18_001, rec('x', '6'))), off(ACQUIRE), 'rank 0: at once when expired');

  const c = new IpElection('c', CFG);
  t.same(c.decide(inp(0, rec('x', '1', 30))), off(wait(31_001)), 'a 30 s Lease is waited out for 30 s');
  const far = new IpElection('a', CFG);
  t.same(far.decide(inp(1e12, rec('x', '1'))), off(wait(1e12 + 10_001)), 'only differences of this clock matter; its origin does not');
});

t.test('a live holder is never preempted, whatever its rank', async (t) => {
  for (const holder of ['x', 'b', 'c']) {
    const a = new IpElection('a', CFG);
    let acted = 0;
    for (let now = 0, v = 1; now <= 120_000; now += 250) {
      if (now % 2_000 === 0) v++;
      const d = a.decide(inp(now, rec(holder, String(v))));
      if (d.announce || d.action.kind !== 'wait') acted++;
    }
    t.equal(acted, 0, `rank 0 left ${holder}'s Lease alone for 2 minutes of renewals`);
  }
});

t.test('an ineligible holder stops announcing and releases at once; released means released', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(500, rec('a', '1'), { eligible: false })), off(RELEASE), 'stop announcing, then release');
  t.same(e.decide(inp(510, rec('a', '1'), { eligible: false })), off(wait(Infinity)), 'one release at a time');
  e.onReleased(520);
  t.same(e.decide(inp(530, rec('a', '1'), { eligible: false })), off(wait(Infinity)), 'the stale record naming it is not released again');
  t.notOk(e.holds);
  t.same(e.decide(inp(540, rec('a', '1'))), off(ACQUIRE), 'eligible again: the Lease is known free, rank 0 takes it');

  const dropped = holderA();
  t.same(dropped.decide(inp(500, rec('a', '1'), { candidates: ['b', 'c'] })), off(RELEASE), 'dropped from the candidates: same as ineligible');

  const outage = holderA();
  t.same(outage.decide(inp(500, rec('a', '1'), { eligible: false, apiReachable: false })), off(wait(Infinity)), 'during an outage: stops announcing, cannot release');
  t.same(outage.decide(inp(900, rec('a', '1'), { eligible: false })), off(RELEASE), 'releases as soon as the API is back');
});

t.test('a node the store names but that is ineligible releases (e.g. after a restart)', async (t) => {
  const e = new IpElection('b', CFG);
  t.same(e.decide(inp(0, rec('b', '3'), { eligible: false })), off(RELEASE));
  e.onWriteFailed(100);
  t.same(e.decide(inp(100, rec('b', '3'), { eligible: false })), off(wait(2_100)), 'a failed release is retried after an interval');
  t.same(e.decide(inp(2_100, rec('b', '3'), { eligible: false })), off(RELEASE));
});

t.test('the store naming this node (a restart, a lost answer) is taken back at once, whatever the rank', async (t) => {
  const e = new IpElection('c', CFG);
  t.same(e.decide(inp(0, rec('c', '3'))), off(ACQUIRE));
  e.onAcquired(30);
  t.same(e.decide(inp(30, rec('c', '3'))), on(wait(2_000), 10_000));

  const lost = new IpElection('a', CFG);
  lost.decide(inp(0, undefined));
  lost.onWriteFailed(5_000); // applied, but the answer never came
  t.same(lost.decide(inp(5_000, undefined)), off(wait(7_000)), 'retries later');
  t.same(lost.decide(inp(5_100, rec('a', '1'))), off(wait(7_000)), 'the stream shows the write landed: still spaced');
  t.same(lost.decide(inp(7_000, rec('a', '1'))), off(ACQUIRE));
});

t.test('a 409 stops announcing at once and is not retried against the same record', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(2_000, rec('a', '1'))), on(RENEW, 10_000));
  e.onConflict(2_050);
  t.same(e.decide(inp(2_050, rec('a', '1'))), off(wait(12_051)), 'someone else wrote: waits for news (or a full lease)');
  t.same(e.decide(inp(2_100, rec('x', '3'))), off(wait(12_101)), 'the news: x holds it');
  t.notOk(e.holds);

  const b = new IpElection('b', CFG);
  b.decide(inp(0, rec('x', '5')));
  t.same(b.decide(inp(10_501, rec('x', '5'))), off(ACQUIRE));
  b.onConflict(10_560);
  t.same(b.decide(inp(10_560, rec('x', '5'))), off(wait(21_061)), 'the record it lost on is stale: no retry against it');
});

t.test('a record naming another holder stops announcing at once, even during an outage', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(3_000, rec('x', '9'), { apiReachable: false })), off(wait(Infinity)));
  t.notOk(e.holds);
  t.same(e.decide(inp(900_000, rec('x', '9'), { apiReachable: false })), off(wait(Infinity)), 'and acquires nothing during the outage');

  const deleted = holderA();
  t.same(deleted.decide(inp(3_000, undefined)), off(ACQUIRE), 'the Lease was deleted: stop announcing; rank 0 recreates it');
});

t.test('API outage: a holder keeps announcing indefinitely; nobody acquires', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(1_000, rec('a', '1'), { apiReachable: false })), on(wait(10_000), 10_000), 'wakes when its Lease would run out');
  t.same(e.decide(inp(10_000, rec('a', '1'), { apiReachable: false })), on(wait(Infinity), Infinity), 'degraded: announcing on trust');
  t.same(e.decide(inp(1e7, rec('a', '1'), { apiReachable: false })), on(wait(Infinity), Infinity), 'still, hours later');
  t.same(e.decide(inp(1e7 + 1, rec('a', '1'))), on(RENEW, Infinity), 'API back: renews at once, still announcing');
  e.onRenewed(1e7 + 50);
  t.same(e.decide(inp(1e7 + 50, rec('a', '1'))), on(wait(1e7 + 2_001), 1e7 + 10_001), 'confirmed again');

  const b = new IpElection('b', CFG);
  b.decide(inp(0, rec('a', '1')));
  t.same(b.decide(inp(5_000, rec('a', '1'), { apiReachable: false })), off(wait(Infinity)));
  t.same(b.decide(inp(1e6, rec('a', '1'), { apiReachable: false })), off(wait(Infinity)), 'no acquire while unreachable, however old the record');
  t.same(b.decide(inp(1e6 + 1, rec('a', '1'))), off(wait(1e6 + 1 + 10_001 + 500)), 'reconnected: the expiry clock restarts, the holder gets a chance to renew');
});

t.test('a failed renew keeps announcing (degraded past the lease) and retries every interval', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(2_000, rec('a', '1'))), on(RENEW, 10_000));
  e.onWriteFailed(2_100);
  t.same(e.decide(inp(2_100, rec('a', '1'))), on(wait(4_100), 10_000));
  let now = 4_100;
  for (; now < 14_000; now += 2_100) {
    t.same(e.decide(inp(now, rec('a', '1'))), on(RENEW, now >= 10_000 ? Infinity : 10_000), `retry at ${now}`);
    e.onWriteFailed(now + 100);
  }
  t.same(e.decide(inp(now, rec('a', '1'))), on(RENEW, Infinity));
  e.onRenewed(now + 20);
  t.same(e.decide(inp(now + 20, rec('a', '1'))), on(wait(now + 2_000), now + 10_000), 'answered: confirmed, on schedule');
});

t.test('a reachable holder whose renewal goes unanswered stops when its Lease would expire', async (t) => {
  const e = holderA();
  t.same(e.decide(inp(2_000, rec('a', '1'))), on(RENEW, 10_000));
  t.same(e.decide(inp(5_000, rec('a', '1'))), on(wait(10_000), 10_000), 'wakes when the last answered write (sent at 0) expires');
  t.same(e.decide(inp(10_000, rec('a', '1'))), off(wait(Infinity)), 'rivals may take over from now: stop');
  e.onRenewed(10_500);
  t.same(e.decide(inp(10_500, rec('a', '1'))), on(RENEW, 12_000), 'the late answer counts from when it was sent (2000); renewal due');
});

t.test('records older than its own answered write are ignored; news is not', async (t) => {
  const b = new IpElection('b', CFG);
  b.decide(inp(0, rec('x', '5')));
  t.same(b.decide(inp(10_501, rec('x', '5'))), off(ACQUIRE));
  b.onAcquired(10_550);
  t.same(b.decide(inp(10_600, rec('x', '5'))), on(wait(12_501), 20_501), 'the record it replaced (x) is stale');
  t.same(b.decide(inp(10_700, rec('b', '6'))), on(wait(12_501), 20_501), 'its own write');
  t.same(b.decide(inp(10_800, rec('c', '7'))), off(wait(20_801 + 500)), 'someone wrote after it: stop');

  const own = new IpElection('b', CFG);
  own.decide(inp(0, rec(undefined, '5')));
  own.decide(inp(500, rec(undefined, '5')));
  t.same(own.decide(inp(520, rec('b', '6'))), off(wait(Infinity)), 'the stream shows its write before the answer');
  own.onAcquired(540);
  t.same(own.decide(inp(540, rec('b', '6'))), on(wait(2_500), 10_500));

  const late = new IpElection('b', CFG);
  late.decide(inp(0, rec(undefined, '5')));
  late.decide(inp(500, rec(undefined, '5')));
  late.decide(inp(520, rec('c', '7'))); // c wrote after b's write, before b's answer
  late.onAcquired(540);
  // c's record is timed from 540, not 520: the answer briefly replaced it, which only ever delays a takeover
  t.same(late.decide(inp(540, rec('c', '7'))), off(wait(10_541 + 500)), 'a newer holder seen before the answer wins');
});

t.test('a node that is not a candidate never acquires; callbacks without a write are ignored', async (t) => {
  const e = new IpElection('z', CFG);
  t.same(e.decide(inp(0, undefined)), off(wait(Infinity)));
  t.same(e.decide(inp(99_999, rec(undefined, '2'))), off(wait(Infinity)));
  e.onAcquired(100_000);
  e.onRenewed(100_000);
  e.onReleased(100_000);
  e.onWriteFailed(100_000);
  t.same(e.decide(inp(100_001, rec(undefined, '2'))), off(wait(Infinity)), 'stray callbacks changed nothing');
  t.notOk(e.holds);
});

t.test('bad timers are refused', async (t) => {
  const bad: ElectionConfig[] = [
    { leaseDurationMs: 10_000, renewIntervalMs: 10_000, staggerMs: 0 },
    { leaseDurationMs: 10_000, renewIntervalMs: 0, staggerMs: 0 },
    { leaseDurationMs: 0, renewIntervalMs: -1, staggerMs: 0 },
    { leaseDurationMs: 10_000, renewIntervalMs: 1_000, staggerMs: -1 },
    { leaseDurationMs: NaN, renewIntervalMs: 1_000, staggerMs: 0 },
  ];
  for (const cfg of bad) t.throws(() => new IpElection('a', cfg), InvalidElectionConfigError, JSON.stringify(cfg));
  t.doesNotThrow(() => new IpElection('a', { leaseDurationMs: 15_000, renewIntervalMs: 2_000, staggerMs: 0 }));
});

t.test('decisions depend only on differences of the local clock, never on its origin', async (t) => {
  type Op = { dt: number; kind: 'decide' | 'acquired' | 'renewed' | 'released' | 'conflict' | 'failed'; holder: number; bump: boolean; reachable: boolean; eligible: boolean };
  const op = fc.record({
    dt: fc.integer({ min: 0, max: 6_000 }),
    kind: fc.constantFrom('decide', 'decide', 'decide', 'acquired', 'renewed', 'released', 'conflict', 'failed'),
    holder: fc.nat(3),
    bump: fc.boolean(),
    reachable: fc.boolean(),
    eligible: fc.boolean(),
  }) as fc.Arbitrary<Op>;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: -1e12, max: 1e12 }), (ops, shift) => {
      const e1 = new IpElection('a', CFG);
      const e2 = new IpElection('a', CFG);
      let now = 0;
      let version = 0;
      let lease: LeaseRecord | undefined;
      for (const o of ops) {
        now += o.dt;
        if (o.kind !== 'decide') {
          const call = { acquired: 'onAcquired', renewed: 'onRenewed', released: 'onReleased', conflict: 'onConflict', failed: 'onWriteFailed' } as const;
          e1[call[o.kind]](now);
          e2[call[o.kind]](now + shift);
          continue;
        }
        if (o.bump) lease = rec([undefined, 'a', 'b', 'x'][o.holder], String(++version));
        const extra = { apiReachable: o.reachable, eligible: o.eligible };
        const d1 = e1.decide(inp(now, lease, extra));
        const d2 = e2.decide(inp(now + shift, lease, extra));
        const shifted = { ...d2, announceUntilMs: d2.announceUntilMs - shift, ...(d2.action.kind === 'wait' ? { action: wait(d2.action.untilMs - shift) } : {}) };
        if (JSON.stringify(d1) !== JSON.stringify(shifted)) return false;
        if (d1.action.kind === 'wait' && !(d1.action.untilMs > now)) return false; // never asks to wait for the past
        if (!(d1.announceUntilMs > now)) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random histories decided alike under a shifted clock');
});

// ---------------------------------------------------------------------------
// simulation: 2-4 speakers, one Lease store with compare-and-swap, an ordered watch per node
// with random delays, API partitions (per node or for all), crashes with restarts, eligibility flips.
//
// Safety invariant, checked after every instant of simulated time:
//   S1  every node that announces and is not degraded is the holder the store names at that instant.
//       ("degraded" = announcing on trust while the API is unreachable or its last write failed.)
//   S2  a degraded announcer really is cut off: it was told the API is unreachable, or its last write
//       failed, since the API last answered it.
//   S3  no node announces after its watch delivered a record newer than its own last write naming
//       another holder (seeing another holder stops it, outage or not).
//   S4  no ineligible node announces.
// S1 is the property that matters on the wire: when nodes can write to the API, two of them never answer
// ARP for the IP at once, and the one that does is the one every other node sees as holder. It is checked
// against the store itself, not any node's view, and holds however long messages take and whatever the
// clock offsets, because it rests only on compare-and-swap and on each node measuring durations on its own
// clock. Outages are the one deliberate exception (the brief: keep announcing what you hold), and S2/S3
// bound it: only a node cut off from the API can announce without being the holder, and only until it
// hears of another holder. Runs without partitions also assert that nobody is ever degraded, so there S1
// covers every announcer.
//
// Liveness: once the last disturbance is over, within
//   leaseDuration + nodes × stagger + renewInterval + (detection lag + 4 message delays)
// exactly one node announces (not degraded, the store's holder) if any node is eligible (none otherwise),
// and the holder then never changes until the end of the run.

const SIM: ElectionConfig = { leaseDurationMs: 3_000, renewIntervalMs: 1_000, staggerMs: 300 };
const IP = '192.0.2.50';

interface StoreRec {
  readonly holder: string | undefined;
  readonly version: number;
}

interface Disturbance {
  readonly at: number;
  /** a node index, or negative: whichever node the store names as holder at that moment */
  readonly node: number;
  readonly kind: 'partition' | 'api-down' | 'crash' | 'eligibility';
  readonly duration: number;
}

interface Scenario {
  readonly nodes: number;
  readonly offsets: readonly number[];
  readonly eligible: readonly boolean[];
  readonly staggerMs: number;
  readonly maxDelay: number;
  readonly detectLag: number;
  readonly seed: number;
  readonly disturbances: readonly Disturbance[];
  /** a holder crash with no restart, for the failover bound */
  readonly killHolderAt?: number;
}

interface SimNode {
  readonly name: string;
  readonly offset: number;
  alive: boolean;
  incarnation: number;
  election: IpElection;
  synced: boolean;
  view: StoreRec | undefined;
  lastDeliveryAt: number;
  cutOff: number;
  flag: boolean;
  eligible: boolean;
  wakeGen: number;
  announce: boolean;
  degraded: boolean;
  ownVersion: number | undefined;
  lastWrittenVersion: number;
  outageSinceAnswer: boolean;
}

interface SimStats {
  takeovers: number;
  conflicts: number;
  failedWrites: number;
  degradedInstants: number;
  announcedInstants: number;
}

interface SimResult {
  readonly violations: string[];
  readonly stats: SimStats;
  /** ms from killHolderAt until another node announced (undefined when not measured) */
  readonly failoverMs?: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class EventQueue {
  private heap: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;

  push(at: number, run: () => void): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, run });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peekAt(): number | undefined {
    return this.heap[0]?.at;
  }

  pop(): { at: number; run: () => void } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(l, m)) m = l;
        if (r < h.length && this.less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

function simulate(sc: Scenario): SimResult {
  const cfg: ElectionConfig = { ...SIM, staggerMs: sc.staggerMs };
  const { leaseDurationMs: L, renewIntervalMs: R, staggerMs: S } = cfg;
  const rand = mulberry32(sc.seed);
  const delay = (): number => 1 + Math.floor(rand() * sc.maxDelay);
  const q = new EventQueue();
  const violations: string[] = [];
  const stats: SimStats = { takeovers: 0, conflicts: 0, failedWrites: 0, degradedInstants: 0, announcedInstants: 0 };
  let now = 0;
  let store: StoreRec | undefined;
  let versions = 0;
  const at = (time: number, run: () => void): void => q.push(Math.max(time, now), run);

  const nodes: SimNode[] = Array.from({ length: sc.nodes }, (_, i) => ({
    name: `node-${i}`,
    offset: sc.offsets[i] ?? 0,
    alive: true,
    incarnation: 0,
    election: new IpElection(`node-${i}`, cfg),
    synced: false,
    view: undefined,
    lastDeliveryAt: 0,
    cutOff: 0,
    flag: true,
    eligible: sc.eligible[i] ?? true,
    wakeGen: 0,
    announce: false,
    degraded: false,
    ownVersion: undefined,
    lastWrittenVersion: -1,
    outageSinceAnswer: false,
  }));
  const rankCache = new Map<string, string[]>();
  const candidates = (): string[] => {
    const names = nodes.filter((n) => n.eligible).map((n) => n.name);
    const key = names.join(',');
    let ranked = rankCache.get(key);
    if (!ranked) rankCache.set(key, (ranked = rankCandidates(IP, names)));
    return ranked;
  };
  const toRecord = (r: StoreRec | undefined): LeaseRecord | undefined =>
    r && { holder: r.holder, version: String(r.version), durationSeconds: L / 1000 };

  function step(n: SimNode): void {
    if (!n.alive || !n.synced) return;
    const local = now + n.offset;
    if (!n.flag) n.outageSinceAnswer = true;
    const d = n.election.decide({ lease: toRecord(n.view), apiReachable: n.flag, eligible: n.eligible, candidates: candidates(), nowMs: local });
    n.announce = d.announce;
    n.degraded = d.degraded;
    const gen = ++n.wakeGen;
    const action = d.action;
    if (action.kind === 'wait') {
      if (!(action.untilMs > local)) violations.push(`${n.name} asked to wait until ${action.untilMs} at ${local}`);
      else if (Number.isFinite(action.untilMs)) at(action.untilMs - n.offset, () => n.wakeGen === gen && step(n));
      return;
    }
    // a write is out: the answer comes next, but announcing may have to stop before it does
    if (Number.isFinite(d.announceUntilMs)) at(d.announceUntilMs - n.offset, () => n.wakeGen === gen && step(n));
    write(n, action.kind);
  }

  function write(n: SimNode, kind: 'acquire' | 'renew' | 'release'): void {
    const inc = n.incarnation;
    const base = kind === 'acquire' ? n.view?.version : (n.ownVersion ?? n.view?.version);
    if (n.cutOff > 0) {
      at(now + delay(), () => answer(n, inc, kind, 'failed'));
      return;
    }
    at(now + delay(), () => {
      if (store?.version !== base) {
        at(now + delay(), () => answer(n, inc, kind, 'conflict'));
        return;
      }
      const holder = kind === 'release' ? undefined : n.name;
      if (holder !== undefined && store?.holder !== undefined && store.holder !== holder) stats.takeovers++;
      store = { holder, version: ++versions };
      const written = store.version;
      broadcast();
      at(now + delay(), () => answer(n, inc, kind, 'ok', written));
    });
  }

  function answer(n: SimNode, inc: number, kind: 'acquire' | 'renew' | 'release', result: 'ok' | 'conflict' | 'failed', version = -1): void {
    if (!n.alive || n.incarnation !== inc) return;
    const local = now + n.offset;
    if (result === 'failed' || n.cutOff > 0) {
      stats.failedWrites++;
      n.outageSinceAnswer = true;
      n.election.onWriteFailed(local);
    } else if (result === 'conflict') {
      stats.conflicts++;
      n.outageSinceAnswer = false;
      n.election.onConflict(local);
    } else {
      n.outageSinceAnswer = false;
      n.ownVersion = version;
      if (kind === 'release') n.election.onReleased(local);
      else {
        n.lastWrittenVersion = version;
        if (kind === 'acquire') n.election.onAcquired(local);
        else n.election.onRenewed(local);
      }
    }
    step(n);
  }

  function deliverLater(n: SimNode, r: StoreRec | undefined): void {
    const inc = n.incarnation;
    const when = Math.max(now + delay(), n.lastDeliveryAt);
    n.lastDeliveryAt = when;
    at(when, () => {
      if (!n.alive || n.incarnation !== inc || n.cutOff > 0) return;
      if (n.view && (!r || r.version < n.view.version)) return; // a watch never goes back
      n.view = r;
      n.synced = true;
      step(n);
    });
  }

  function broadcast(): void {
    for (const n of nodes) if (n.alive && n.cutOff === 0) deliverLater(n, store);
  }

  function setFlagLater(n: SimNode): void {
    at(now + sc.detectLag, () => {
      const f = n.cutOff === 0;
      if (n.alive && f !== n.flag) {
        n.flag = f;
        step(n);
      }
    });
  }

  function cut(n: SimNode): void {
    n.cutOff++;
    setFlagLater(n);
  }

  function reconnect(n: SimNode): void {
    n.cutOff--;
    if (n.cutOff === 0 && n.alive) deliverLater(n, store); // relist
    setFlagLater(n);
  }

  function crash(n: SimNode): void {
    if (!n.alive) return;
    n.alive = false;
    n.announce = false;
    n.degraded = false;
    n.incarnation++;
  }

  function restart(n: SimNode): void {
    if (n.alive) return;
    Object.assign(n, {
      alive: true,
      election: new IpElection(n.name, cfg),
      synced: false,
      view: undefined,
      flag: n.cutOff === 0,
      ownVersion: undefined,
      lastWrittenVersion: -1,
      outageSinceAnswer: false,
    });
    if (n.cutOff === 0) deliverLater(n, store);
  }

  function flipEligibility(n: SimNode): void {
    n.eligible = !n.eligible;
    for (const m of nodes) step(m);
  }

  // start: every node lists the (empty) store
  for (const n of nodes) deliverLater(n, store);
  let quietFrom = 0;
  for (const d of sc.disturbances) {
    const end = d.at + d.duration;
    quietFrom = Math.max(quietFrom, end);
    at(d.at, () => {
      const n = d.node >= 0 ? nodes[d.node % sc.nodes]! : (nodes.find((m) => m.name === store?.holder) ?? nodes[0]!);
      if (d.kind === 'partition') {
        cut(n);
        at(end, () => reconnect(n));
      } else if (d.kind === 'api-down') {
        nodes.forEach(cut);
        at(end, () => nodes.forEach(reconnect));
      } else if (d.kind === 'crash') {
        crash(n);
        at(end, () => restart(n));
      } else {
        flipEligibility(n);
        at(end, () => flipEligibility(n));
      }
    });
  }
  let killed: SimNode | undefined;
  let killedAt = 0;
  let failoverMs: number | undefined;
  if (sc.killHolderAt !== undefined) {
    at(sc.killHolderAt, () => {
      killed = nodes.find((n) => n.name === store?.holder);
      killedAt = now;
      if (killed) crash(killed);
      else violations.push(`nobody held the Lease at ${now}`);
    });
    quietFrom = Math.max(quietFrom, sc.killHolderAt);
  }
  const bound = L + sc.nodes * S + R + sc.detectLag + 4 * sc.maxDelay;
  const settledAt = quietFrom + bound;
  const endAt = settledAt + 5_000;
  at(settledAt, () => {});
  let settledHolder: string | undefined;
  const partitions = sc.disturbances.some((d) => d.kind === 'partition' || d.kind === 'api-down');

  function check(): void {
    const announcing = nodes.filter((n) => n.alive && n.announce);
    for (const n of announcing) {
      stats.announcedInstants++;
      if (n.degraded) stats.degradedInstants++;
      if (!n.degraded && store?.holder !== n.name) violations.push(`S1 at ${now}: ${n.name} announces but the store names ${store?.holder}`);
      if (n.degraded && !n.outageSinceAnswer) violations.push(`S2 at ${now}: ${n.name} degraded without an outage`);
      if (n.view && n.view.version > n.lastWrittenVersion && n.view.holder !== n.name) {
        violations.push(`S3 at ${now}: ${n.name} announces after seeing ${n.view.holder} at version ${n.view.version}`);
      }
      if (!n.eligible) violations.push(`S4 at ${now}: ineligible ${n.name} announces`);
      if (n.degraded && !partitions) violations.push(`degraded ${n.name} at ${now} in a run without outages`);
    }
    if (killed && failoverMs === undefined && announcing.length > 0) failoverMs = now - killedAt;
    if (now < settledAt || sc.maxDelay > L / 10) return;
    const live = nodes.filter((n) => n.alive && n.eligible);
    if (live.length === 0) {
      if (announcing.length > 0) violations.push(`L at ${now}: nobody is eligible yet ${announcing[0]?.name} announces`);
      return;
    }
    const a = announcing[0];
    if (announcing.length !== 1 || !a || a.degraded || store?.holder !== a.name) {
      violations.push(`L at ${now}: announcing [${announcing.map((n) => `${n.name}${n.degraded ? '(degraded)' : ''}`)}], store holder ${store?.holder}`);
      return;
    }
    settledHolder ??= a.name;
    if (settledHolder !== a.name) violations.push(`L at ${now}: the holder moved from ${settledHolder} to ${a.name} in a quiet period`);
  }

  while (violations.length === 0) {
    const next = q.peekAt();
    if (next === undefined || next > endAt) break;
    now = next;
    while (q.peekAt() === now) q.pop().run();
    check();
  }
  return { violations, stats, ...(failoverMs === undefined ? {} : { failoverMs }) };
}

const disturbance = fc.record({
  at: fc.integer({ min: 0, max: 40_000 }),
  node: fc.integer({ min: -3, max: 3 }),
  kind: fc.constantFrom('partition', 'partition', 'api-down', 'crash', 'crash', 'eligibility') as fc.Arbitrary<Disturbance['kind']>,
  duration: fc.integer({ min: 1, max: 12_000 }),
});

const scenario = (maxDelay: fc.Arbitrary<number>, maxDisturbances: number): fc.Arbitrary<Scenario> =>
  fc.record({
    nodes: fc.integer({ min: 2, max: 4 }),
    offsets: fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 4, maxLength: 4 }),
    eligible: fc.array(fc.constantFrom(true, true, true, false), { minLength: 4, maxLength: 4 }),
    staggerMs: fc.constantFrom(0, 50, 300),
    maxDelay,
    detectLag: fc.integer({ min: 0, max: 1_500 }),
    seed: fc.integer(),
    disturbances: fc.array(disturbance, { maxLength: maxDisturbances, size: 'max' }),
  });

type Asserts = Pick<typeof t, 'pass' | 'fail'>;

function assertRuns(t: Asserts, arb: fc.Arbitrary<Scenario>, numRuns: number, what: string): SimStats {
  const total: SimStats = { takeovers: 0, conflicts: 0, failedWrites: 0, degradedInstants: 0, announcedInstants: 0 };
  let failure: string[] = [];
  try {
    fc.assert(
      fc.property(arb, (sc) => {
        const r = simulate(sc);
        for (const k of Object.keys(total) as (keyof SimStats)[]) total[k] += r.stats[k];
        failure = r.violations;
        return r.violations.length === 0;
      }),
      // no shrinking: the violations reported are those of the scenario printed
      { numRuns, seed: 0x5eed, endOnFailure: true },
    );
  } catch (err) {
    t.fail(`${what}: ${failure.join('; ')}\n${String(err).slice(0, 3_000)}`);
    return total;
  }
  t.pass(`${what}: ${numRuns} runs without a violation`);
  return total;
}

t.test('simulation: safety (S1-S4) and liveness under partitions, API outages, crashes and eligibility flips', async (t) => {
  const stats = assertRuns(t, scenario(fc.integer({ min: 1, max: 60 }), 10), 600, 'safety and liveness');
  // the runs exercised what they claim to
  t.comment(JSON.stringify(stats));
  t.ok(stats.takeovers > 200, `takeovers happened (${stats.takeovers})`);
  t.ok(stats.conflicts > 100, `compare-and-swap conflicts happened (${stats.conflicts})`);
  t.ok(stats.failedWrites > 100, `writes failed in outages (${stats.failedWrites})`);
  t.ok(stats.degradedInstants > 1_000, `holders announced through outages (${stats.degradedInstants} instants)`);
});

t.test('simulation: safety holds with slow networks (messages up to 2 × leaseDuration)', async (t) => {
  const stats = assertRuns(t, scenario(fc.integer({ min: 100, max: 6_000 }), 8), 300, 'safety with slow messages');
  t.ok(stats.announcedInstants > 10_000, `somebody announced (${stats.announcedInstants} instants)`);
});

t.test('simulation: without outages nobody is ever degraded, so every announcer is the store holder', async (t) => {
  const noOutage = fc.record({
    nodes: fc.integer({ min: 2, max: 4 }),
    offsets: fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 4, maxLength: 4 }),
    eligible: fc.constant([true, true, true, true]),
    staggerMs: fc.constantFrom(0, 50, 300),
    maxDelay: fc.integer({ min: 1, max: 300 }),
    detectLag: fc.constant(0),
    seed: fc.integer(),
    disturbances: fc.array(
      disturbance.map((d) => ({ ...d, kind: d.kind === 'partition' || d.kind === 'api-down' ? ('eligibility' as const) : d.kind })),
      { maxLength: 8 },
    ),
  });
  const stats = assertRuns(t, noOutage, 300, 'no outages');
  t.equal(stats.degradedInstants, 0, 'never degraded');
  t.ok(stats.takeovers > 50, `takeovers happened (${stats.takeovers})`);
});

t.test('simulation: when the holder crashes, another node announces within lease + nodes × stagger + renew', async (t) => {
  let worst = 0;
  let measured = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 4 }),
      fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 4, maxLength: 4 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer(),
      fc.integer({ min: 10_000, max: 20_000 }),
      (nodes, offsets, maxDelay, seed, killAt) => {
        const r = simulate({ nodes, offsets, eligible: [true, true, true, true], staggerMs: SIM.staggerMs, maxDelay, detectLag: 0, seed, disturbances: [], killHolderAt: killAt });
        const bound = SIM.leaseDurationMs + nodes * SIM.staggerMs + SIM.renewIntervalMs;
        if (r.failoverMs === undefined) return false;
        measured++;
        worst = Math.max(worst, r.failoverMs);
        return r.violations.length === 0 && r.failoverMs <= bound;
      },
    ),
    { numRuns: 300, seed: 0xfa11 },
  );
  t.equal(measured, 300, 'every run measured a failover');
  t.ok(worst > SIM.leaseDurationMs, `failover waits out the lease (${worst} ms worst), so the bound is not vacuous`);
});

t.test('scenario: an API outage for everyone keeps the holder announcing and keeps the Lease with it afterwards', async (t) => {
  const r = simulate({
    nodes: 3,
    offsets: [0, 5_000_000, -7],
    eligible: [true, true, true],
    staggerMs: 300,
    maxDelay: 20,
    detectLag: 50,
    seed: 7,
    disturbances: [{ at: 10_000, node: 0, kind: 'api-down', duration: 20_000 }],
  });
  t.same(r.violations, []);
  t.ok(r.stats.degradedInstants > 0, 'the holder announced degraded during the outage');
  t.equal(r.stats.takeovers, 0, 'nobody took the Lease over after the outage (no preemption)');
});
