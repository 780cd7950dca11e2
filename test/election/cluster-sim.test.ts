import fc from 'fast-check';
import t from 'tap';
import { HeartbeatKey, encodeHeartbeat } from '../../src/election/heartbeat-frame.js';
import { MacAddress } from '../../src/net/arp-frame.js';
import { rankCandidates } from '../../src/speaker/rendezvous.js';
import { ClusterSim } from './cluster-sim.js';

const NODES = ['node1', 'node2', 'node3'];
const IPS = ['198.51.100.200', '198.51.100.201', '198.51.100.202', '198.51.100.203', '198.51.100.204', '198.51.100.205'];
const RUNS = Number(process.env['BARELB_FUZZ_RUNS'] ?? 150);

/** Every IP has exactly one announcer among the running nodes. */
function settled(sim: ClusterSim): string[] {
  const bad: string[] = [];
  for (const ip of sim.ips) {
    const a = sim.announcers(ip);
    if (a.length !== 1) bad.push(`${ip}: ${a.join(',') || 'nobody'}`);
  }
  return bad;
}

function holderOf(sim: ClusterSim, ip: string): string {
  const a = sim.announcers(ip);
  if (a.length !== 1) throw new Error(`${ip} has ${a.length} announcers`);
  return a[0] as string;
}

t.test('a fresh cluster settles on the rendezvous order, one announcer per IP, and then nothing moves', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  t.same(settled(sim), []);
  for (const ip of IPS) t.equal(holderOf(sim, ip), rankCandidates(ip, NODES)[0], `${ip} on its first-ranked node`);
  const quietFrom = sim.nowMs;
  sim.run(5000);
  t.same(sim.transitionsIn(quietFrom, sim.nowMs), [], 'no announcement changes in 5 s of quiet');
  t.equal(sim.drops.get('replay') ?? 0, 0, 'no genuine heartbeat is taken for a replay');
});

t.test('crash: the next node takes over within the failure timeout and a tick, and keeps it when the old holder returns', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[0] as string;
  const victim = holderOf(sim, ip);
  const crashAt = sim.nowMs;
  sim.crash(victim);
  sim.run(1000);
  t.same(settled(sim), []);
  const next = holderOf(sim, ip);
  t.not(next, victim);
  const took = sim.transitionsIn(crashAt, sim.nowMs, ip).find((x) => x.announce);
  t.ok(took && took.atMs - crashAt <= sim.timers.failureTimeoutMs + sim.timers.intervalMs + sim.timers.tickMs, `taken over ${took ? took.atMs - crashAt : '?'} ms after the crash`);
  sim.restart(victim);
  const back = sim.nowMs;
  sim.run(3000);
  t.same(settled(sim), []);
  t.equal(holderOf(sim, ip), next, 'no preemption: the returning, better-ranked node does not take it back');
  t.same(sim.transitionsIn(back, sim.nowMs, ip), [], 'the IP did not move');
});

t.test('SIGTERM: peers take over while the leaving node still answers, so there is no gap', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[1] as string;
  const leaving = holderOf(sim, ip);
  const at = sim.nowMs - 1; // transitionsIn counts from after `at`: the takeover can happen in the same millisecond
  sim.sigterm(leaving);
  sim.run(1000);
  const took = sim.transitionsIn(at, sim.nowMs, ip).find((x) => x.announce);
  const stopped = sim.transitionsIn(at, sim.nowMs, ip).find((x) => !x.announce && x.node === leaving);
  t.ok(took && stopped && took.atMs <= stopped.atMs, `taken over at +${took ? took.atMs - at : '?'} ms, the old holder stopped at +${stopped ? stopped.atMs - at : '?'} ms`);
  t.ok(took && took.atMs - at <= 50, 'taken over within 50 ms');
  t.same(settled(sim), []);
});

t.test('a stall past the failure timeout: peers take over, the stalled node answers nothing on waking, and takes nothing back', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[2] as string;
  const stalled = holderOf(sim, ip);
  const mine = IPS.filter((x) => holderOf(sim, x) === stalled);
  sim.stall(stalled, 2000);
  sim.run(1000);
  const during = IPS.filter((x) => sim.announcers(x).filter((n) => n !== stalled).length !== 1);
  t.same(during, [], 'while it is stopped, its peers announce each IP once');
  // The moment it wakes, the stall guard runs before anything else: it answers nothing.
  sim.run(1001);
  t.notOk(sim.answering(sim.node(stalled)), 'suspended on waking');
  for (const x of mine) t.same(sim.announcers(x).filter((n) => n === stalled), [], `${x}: not answered by the woken node`);
  sim.run(2000);
  t.same(settled(sim), []);
  for (const x of mine) t.not(holderOf(sim, x), stalled, `${x} stays with the node that took it`);
});

t.test('a stall ends without a second answerer even when the peers that took over have claim sets of many chunks', async (t) => {
  // IPv6 claims take 17 bytes: 1,500 of them make claim sets of 9 chunks and more, which arrive one chunk a
  // heartbeat once they stop changing, longer than the 500 ms a stalled node listens before it answers again.
  const ips = Array.from({ length: 1500 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
  const sim = new ClusterSim(NODES, ips);
  sim.run(1000);
  t.same(settled(sim), [], 'settled before the stall');
  sim.stall('node1', 1500);
  sim.run(1500);
  const twice = new Set<string>();
  for (let ms = 0; ms < 4000; ms += 20) {
    sim.run(20);
    for (const ip of ips) if (sim.announcers(ip).length > 1) twice.add(ip);
  }
  t.same([...twice].slice(0, 5), [], `no IP answered by two nodes after the wake (${twice.size} were)`);
  t.same(settled(sim), [], 'one answerer each once settled');
});

t.test('a stall nobody could notice (every node stopped at once, the whole machine starved) moves nothing', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const at = sim.nowMs;
  for (const n of NODES) sim.stall(n, 1500);
  sim.run(4000);
  t.same(sim.transitionsIn(at, sim.nowMs), [], 'no IP moved');
  t.same(settled(sim), []);
});

t.test('a stall past the guard but under the failure timeout: a pause in answering, nothing moves', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const holder = holderOf(sim, IPS[0] as string);
  const at = sim.nowMs;
  sim.stall(holder, 320);
  sim.run(3000);
  t.same(sim.transitionsIn(at, sim.nowMs), [], 'no IP moved');
  t.same(settled(sim), []);
});

t.test('a stall shorter than the failure timeout changes nothing', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[0] as string;
  const holder = holderOf(sim, ip);
  const at = sim.nowMs;
  sim.stall(holder, 150);
  sim.run(2000);
  t.same(sim.transitionsIn(at, sim.nowMs), [], 'no IP moved');
});

t.test('one-way loss settles on one announcer, and stays settled', async (t) => {
  for (const [from, to] of NODES.flatMap((a) => NODES.filter((b) => b !== a).map((b) => [a, b] as const))) {
    const sim = new ClusterSim(NODES, IPS);
    sim.run(1000);
    sim.lost.add(`${from}>${to}`);
    sim.run(3000);
    t.same(settled(sim), [], `${from} -> ${to} lost: settled`);
    const at = sim.nowMs;
    sim.run(3000);
    t.same(sim.transitionsIn(at, sim.nowMs), [], `${from} -> ${to} lost: no flapping`);
  }
});

t.test('a two-node one-way loss goes to the side that cannot hear', async (t) => {
  const sim = new ClusterSim(['a', 'b'], IPS);
  sim.run(1000);
  sim.lost.add('a>b'); // b no longer hears a
  sim.run(3000);
  t.same(settled(sim), []);
  for (const ip of IPS) t.equal(holderOf(sim, ip), 'b', `${ip} on b, which believes a dead`);
});

t.test('a healed partition settles on one announcer per IP', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  for (const a of NODES) for (const b of NODES) if (a !== b) sim.lost.add(`${a}>${b}`);
  sim.run(2000);
  for (const ip of IPS) t.equal(sim.announcers(ip).length, 3, `${ip}: split brain while partitioned (each side alone)`);
  sim.lost.clear();
  sim.run(3000);
  t.same(settled(sim), []);
});

t.test('a link that goes down and comes back: peers take over, and the node back on the LAN takes nothing back', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[3] as string;
  const victim = holderOf(sim, ip);
  const mine = IPS.filter((x) => holderOf(sim, x) === victim);
  sim.linkDown(victim);
  sim.run(1000);
  t.same(settled(sim), [], 'its peers announce each IP once');
  for (const x of mine) t.not(holderOf(sim, x), victim, `${x} moved off the cut-off node`);
  const back = sim.nowMs;
  sim.linkUp(victim);
  sim.run(3000);
  t.same(settled(sim), []);
  t.same(sim.transitionsIn(back, sim.nowMs).filter((x) => x.announce), [], 'nothing taken back once the link is up');
});

t.test('a node back on the LAN waits for every peer\'s whole claim set, however many chunks it takes', async (t) => {
  // 1,800 IPs on one node are 7 chunks, sent one per beat when nothing changes: longer than the listening time.
  const many = Array.from({ length: 1800 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  const sim = new ClusterSim(['node1', 'node2'], many);
  sim.run(1000);
  sim.linkDown('node2');
  sim.run(1000);
  t.equal(many.filter((x) => sim.announcers(x)[0] === 'node1').length, many.length, 'node1 holds all of them');
  const back = sim.nowMs;
  sim.linkUp('node2');
  sim.run(2000);
  const taken = sim.transitionsIn(back, sim.nowMs).filter((x) => x.announce);
  t.same(taken.slice(0, 3), [], `nothing taken back (${taken.length} taken)`);
  t.same(settled(sim), []);
});

t.test('a node that cannot serve (its rules failed) hands over at once, and takes nothing back when it can again', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const ip = IPS[4] as string;
  const node = holderOf(sim, ip);
  const mine = IPS.filter((x) => holderOf(sim, x) === node);
  const at = sim.nowMs;
  sim.setUnfit(node, true);
  sim.run(500);
  t.same(settled(sim), []);
  for (const x of mine) {
    t.not(holderOf(sim, x), node, `${x} moved`);
    const took = sim.transitionsIn(at, sim.nowMs, x).find((y) => y.announce);
    t.ok(took && took.atMs - at <= sim.timers.intervalMs + sim.timers.tickMs, `${x} taken over ${took ? took.atMs - at : '?'} ms later (its next heartbeat)`);
  }
  const back = sim.nowMs;
  sim.setUnfit(node, false);
  sim.run(3000);
  t.same(settled(sim), []);
  t.same(sim.transitionsIn(back, sim.nowMs), [], 'nothing moved when it could serve again');
});

t.test('silence hands over: VIPs the best-ranked node cannot take are answered within a failure timeout + 1 s of being assigned', async (t) => {
  // A pool on a second subnet of the LAN that node1 has no address in: its peers cannot know that.
  const sim = new ClusterSim(NODES, []);
  sim.run(1000);
  const pool = Array.from({ length: 12 }, (_, i) => `203.0.113.${10 + i}`);
  sim.setCannotTake('node1', pool);
  const darkBefore = pool.filter((ip) => rankCandidates(ip, NODES)[0] === 'node1');
  t.ok(darkBefore.length > 0, `node1 ranks first for ${darkBefore.length} of the 12`);
  const assignedAt = sim.nowMs;
  for (const ip of pool) sim.assign(ip);
  sim.run(sim.timers.failureTimeoutMs + 1000);
  t.same(settled(sim), [], 'every VIP has one announcer a failure timeout + 1 s after it was assigned');
  for (const ip of darkBefore) t.equal(holderOf(sim, ip), rankCandidates(ip, NODES)[1], `${ip} on its second-ranked node`);
  const changes = sim.transitionsIn(assignedAt, sim.nowMs);
  t.ok(changes.every((c) => c.announce) && changes.length === pool.length, 'each VIP taken once, none taken twice or dropped');
  const quietFrom = sim.nowMs;
  sim.run(5000);
  t.same(sim.transitionsIn(quietFrom, sim.nowMs), [], 'then nothing moves');
});

t.test('silence hands over in rank order: with the two best-ranked unable, the third takes it after two turns', async (t) => {
  const sim = new ClusterSim(NODES, []);
  sim.run(1000);
  const ip = Array.from({ length: 50 }, (_, i) => `203.0.113.${100 + i}`).find((a) => rankCandidates(a, NODES).join() === 'node1,node2,node3') as string;
  sim.setCannotTake('node1', [ip]);
  sim.setCannotTake('node2', [ip]);
  const assignedAt = sim.nowMs;
  sim.assign(ip);
  sim.run(3000);
  t.same(sim.announcers(ip), ['node3'], 'node3 answers');
  const took = sim.transitionsIn(assignedAt, sim.nowMs, ip);
  t.equal(took.length, 1, 'one take');
  const after = (took[0]?.atMs ?? Infinity) - assignedAt;
  t.ok(after >= 2 * (sim.timers.failureTimeoutMs + 500) && after <= 2 * (sim.timers.failureTimeoutMs + 500) + sim.timers.tickMs, `after two turns (${after} ms)`);
});

t.test('single node: takes everything after listening, alone', async (t) => {
  const sim = new ClusterSim(['solo'], IPS);
  sim.run(400);
  t.same(IPS.flatMap((ip) => sim.announcers(ip)), [], 'nothing while listening');
  sim.run(600);
  t.same(settled(sim), []);
});

t.test('forged and replayed heartbeats move nothing', async (t) => {
  const sim = new ClusterSim(NODES, IPS);
  sim.run(1000);
  const at = sim.nowMs;
  const holder = holderOf(sim, IPS[0] as string);
  // A device that knows no key claims every IP as a better-ranked phantom, then as a real node.
  const wrong = HeartbeatKey.fromSecret(new Uint8Array(32).fill(9));
  const hb = (node: string, seq: number) => ({
    node, incarnation: 1e12, seq, flags: { leaving: false, apiReachable: true, rejoining: false },
    claimsDigest: '0000000000000000', claimsTotal: 0, chunkIndex: 0, chunkCount: 1, claims: [], hears: [],
  });
  for (let i = 0; i < 50; i++) {
    sim.inject(encodeHeartbeat(hb('phantom', i + 1), MacAddress.parse('02:66:66:66:66:66'), wrong));
    sim.inject(encodeHeartbeat({ ...hb(holder, i + 1), flags: { leaving: true, apiReachable: true, rejoining: false } }, MacAddress.parse('02:66:66:66:66:66'), wrong));
    sim.run(20);
  }
  t.ok((sim.drops.get('other-cluster') ?? 0) >= 100, 'frames under an unknown key dropped');
  // Replays of every genuine frame seen on the wire so far: each is some node's own (ignored there) and a
  // replay for the two others.
  const replayed = sim.captured.length;
  t.ok(replayed >= 50, `${replayed} frames to replay`);
  const before = sim.drops.get('replay') ?? 0;
  for (const frame of sim.captured) sim.inject(frame);
  t.equal((sim.drops.get('replay') ?? 0) - before, replayed * 2, 'every replayed frame refused by both peers');
  sim.run(2000);
  t.same(sim.transitionsIn(at, sim.nowMs), [], 'no IP moved');
  t.same(settled(sim), []);
});

t.test('property: after any sequence of faults, once they end, one announcer per IP and no flapping', async (t) => {
  const fault = fc.oneof(
    fc.record({ kind: fc.constant('crash' as const), node: fc.nat(4) }),
    fc.record({ kind: fc.constant('restart' as const), node: fc.nat(4) }),
    fc.record({ kind: fc.constant('stall' as const), node: fc.nat(4), ms: fc.integer({ min: 50, max: 3000 }) }),
    fc.record({ kind: fc.constant('sigterm' as const), node: fc.nat(4) }),
    fc.record({ kind: fc.constant('lose' as const), from: fc.nat(4), to: fc.nat(4) }),
    fc.record({ kind: fc.constant('heal' as const) }),
    fc.record({ kind: fc.constant('ineligible' as const), node: fc.nat(4), eligible: fc.boolean() }),
    // Eligibility seen late by one node (an endpoint update its informer delivers seconds after the others').
    fc.record({ kind: fc.constant('eligibleSeenLate' as const), node: fc.nat(4), eligible: fc.boolean(), viewer: fc.nat(4), ms: fc.integer({ min: 100, max: 3000 }) }),
    fc.record({ kind: fc.constant('link' as const), node: fc.nat(4), up: fc.boolean() }),
    fc.record({ kind: fc.constant('unfit' as const), node: fc.nat(4), unfit: fc.boolean() }),
  );
  await fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 800 }), fault), { maxLength: 12 }),
      fc.boolean(),
      (size, faults, keepOneWay) => {
        const names = ['n0', 'n1', 'n2', 'n3', 'n4'].slice(0, size);
        const sim = new ClusterSim(names, IPS.slice(0, 4));
        sim.run(1000);
        for (const [wait, f] of faults) {
          sim.run(wait);
          const pick = (i: number): string => names[i % names.length] as string;
          if (f.kind === 'crash') sim.crash(pick(f.node));
          else if (f.kind === 'restart') sim.restart(pick(f.node));
          else if (f.kind === 'stall') sim.stall(pick(f.node), f.ms);
          else if (f.kind === 'sigterm') sim.sigterm(pick(f.node));
          else if (f.kind === 'lose') sim.lost.add(`${pick(f.from)}>${pick(f.to)}`);
          else if (f.kind === 'heal') sim.lost.clear();
          else if (f.kind === 'link') (f.up ? sim.linkUp : sim.linkDown).call(sim, pick(f.node));
          else if (f.kind === 'unfit') sim.setUnfit(pick(f.node), f.unfit);
          else if (f.kind === 'eligibleSeenLate') sim.setEligible(pick(f.node), f.eligible, pick(f.viewer), f.ms);
          else sim.node(pick(f.node)).eligible = f.eligible;
        }
        // Faults end: stalls run out, crashed and terminated nodes stay down; links heal, or one-way losses
        // stay as a lasting condition (a pair cut both ways is a partition, where two announcers are expected).
        for (const name of names) sim.linkUp(name);
        for (const pair of [...sim.lost]) {
          const [a, b] = pair.split('>');
          if (!keepOneWay || a === b || sim.lost.has(`${b}>${a}`)) sim.lost.delete(pair);
        }
        // Views converge within 3 s of the last fault; then 4 s to settle.
        sim.run(7000);
        if (sim.candidates().length === 0) return true;
        const bad = settled(sim);
        if (bad.length) throw new Error(`not settled: ${bad.join('; ')}`);
        const quiet = sim.nowMs;
        sim.run(3000);
        const moves = sim.transitionsIn(quiet, sim.nowMs);
        if (moves.length) throw new Error(`flapping after settling: ${JSON.stringify(moves.slice(0, 5))}`);
        return true;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} random fault sequences settled`);
});

t.test('property: a healed partition settles without an instant where an IP has no announcer', async (t) => {
  await fc.assert(
    fc.property(fc.integer({ min: 2, max: 5 }), fc.nat(), fc.integer({ min: 500, max: 3000 }), fc.integer({ min: 0, max: 99 }), (size, cut, lastsMs, phase) => {
      const names = ['n0', 'n1', 'n2', 'n3', 'n4'].slice(0, size);
      const sim = new ClusterSim(names, IPS);
      sim.run(1000 + phase);
      const sideA = names.slice(0, 1 + (cut % (size - 1)));
      const sideB = names.filter((n) => !sideA.includes(n));
      for (const a of sideA) for (const b of sideB) sim.lost.add(`${a}>${b}`).add(`${b}>${a}`);
      sim.run(lastsMs);
      sim.lost.clear();
      for (let ms = 0; ms < 3000; ms++) {
        sim.run(1);
        const dark = IPS.filter((ip) => sim.announcers(ip).length === 0);
        if (dark.length) throw new Error(`${dark.join(', ')} had no announcer ${ms + 1} ms after the heal (sides ${sideA} | ${sideB})`);
      }
      const bad = settled(sim);
      if (bad.length) throw new Error(`not settled: ${bad.join('; ')}`);
      return true;
    }),
    { numRuns: Math.max(20, Math.floor(RUNS / 3)) },
  );
  t.pass('healed partitions kept an announcer for every IP throughout');
});
