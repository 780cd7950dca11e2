import t from 'tap';
import { HeartbeatSender, type OutgoingHeartbeat } from '../../src/speaker/heartbeat-sender.js';
import {
  HEARTBEAT_MAX_FRAME,
  HeartbeatKey,
  claimsDigest,
  decodeHeartbeat,
  encodeHeartbeat,
  heartbeatFrameLimit,
  nodeId,
  type Heartbeat,
} from '../../src/election/heartbeat-frame.js';
import { MacAddress } from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';

const NODE = 'worker-1';
const INCARNATION = 1_700_000_000_000;
const STALL_AFTER_MS = 900;

const sender = (): HeartbeatSender => new HeartbeatSender({ node: NODE, incarnation: INCARNATION, stallAfterMs: STALL_AFTER_MS });
const hearing =
  (peers: Record<string, string[]>) =>
  (ifname: string): string[] =>
    peers[ifname] ?? [];
const nobody = hearing({});

/** `n` distinct IPv4 addresses, 10.0.0.0 up, in an order that is not sorted. */
const ipv4s = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.${(i >> 8) & 255}.${i & 255}`).reverse();
const MANY = ipv4s(2000);

const byIf = (out: OutgoingHeartbeat[], ifname: string): OutgoingHeartbeat[] => out.filter((o) => o.ifname === ifname);
const indexes = (out: OutgoingHeartbeat[]): number[] => out.map((o) => o.heartbeat.chunkIndex);
const union = (out: OutgoingHeartbeat[]): string[] => out.flatMap((o) => o.heartbeat.claims);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** What a heartbeat carries: canonical, deduplicated, sorted by code units. */
const sortedCodeUnits = (ips: string[]): string[] => [...new Set(ips.map((ip) => IpAddress.parse(ip).toString()))].sort((a, b) => (a < b ? -1 : 1));

t.test('the first beat sends every chunk on every interface', async (t) => {
  const s = sender();
  const peers = { eth0: ['worker-2', 'worker-3'], eth1: [] };
  const out = s.beat(0, ['eth0', 'eth1'], MANY, hearing(peers));
  for (const ifname of ['eth0', 'eth1']) {
    const mine = byIf(out, ifname);
    const count = mine[0]?.heartbeat.chunkCount ?? 0;
    t.ok(count > 1, `${ifname}: 2,000 claims take several chunks (${count})`);
    t.same(indexes(mine), range(count), `${ifname}: chunks 0..${count - 1}, in order`);
    t.same(union(mine), sortedCodeUnits(MANY), `${ifname}: the chunks are the whole sorted list`);
    const hears = (peers[ifname as keyof typeof peers] ?? []).map(nodeId);
    for (const { heartbeat: hb } of mine) {
      t.match(hb, { node: NODE, incarnation: INCARNATION, chunkCount: count, claimsTotal: 2000, claimsDigest: claimsDigest(MANY) }, `${ifname} chunk ${hb.chunkIndex}`);
      t.same(hb.hears, hears, `${ifname} chunk ${hb.chunkIndex}: the peers heard there`);
    }
  }
  t.equal(out.length, byIf(out, 'eth0').length + byIf(out, 'eth1').length, 'nothing for other interfaces');
});

t.test('few claims: one chunk; none: one empty chunk', async (t) => {
  const rows: [what: string, claims: string[], want: string[]][] = [
    ['none', [], []],
    ['a few, any spelling and order, duplicated', ['192.0.2.2', '2001:DB8::1', '192.0.2.1', '192.0.2.2'], ['192.0.2.1', '192.0.2.2', '2001:db8::1']],
  ];
  for (const [what, claims, want] of rows) {
    const s = sender();
    for (let beat = 0; beat < 3; beat++) {
      const out = s.beat(beat * 100, ['eth0'], claims, nobody);
      t.equal(out.length, 1, `${what}, beat ${beat}: one heartbeat`);
      t.match(out[0]?.heartbeat, { chunkIndex: 0, chunkCount: 1, claimsTotal: want.length, claims: want }, `${what}, beat ${beat}`);
    }
  }
});

t.test('later beats send one chunk per interface, rotating through all of them', async (t) => {
  const s = sender();
  const first = s.beat(0, ['eth0', 'eth1'], MANY, nobody);
  const count = first[0]?.heartbeat.chunkCount ?? 0;
  const seen = new Map<string, number[]>([['eth0', []], ['eth1', []]]);
  for (let beat = 1; beat <= 2 * count; beat++) {
    const out = s.beat(beat * 100, ['eth0', 'eth1'], MANY, nobody);
    t.same(out.map((o) => o.ifname), ['eth0', 'eth1'], `beat ${beat}: one heartbeat per interface`);
    for (const o of out) {
      seen.get(o.ifname)?.push(o.heartbeat.chunkIndex);
      t.equal(o.heartbeat.claimsTotal, 2000);
      t.equal(o.heartbeat.chunkCount, count);
    }
  }
  for (const [ifname, got] of seen) {
    t.same(got.slice(0, count).sort((a, b) => a - b), range(count), `${ifname}: every chunk within ${count} beats`);
    t.same(got.slice(count), got.slice(0, count), `${ifname}: then the same cycle again`);
    t.ok(got.every((i, k) => k === 0 || i !== got[k - 1]), `${ifname}: never the same chunk twice in a row`);
  }
  // the chunks sent over one cycle are the whole list
  const s2 = sender();
  s2.beat(0, ['eth0'], MANY, nobody);
  const cycle = range(count).flatMap((k) => s2.beat((k + 1) * 100, ['eth0'], MANY, nobody));
  t.same(union([...cycle].sort((a, b) => a.heartbeat.chunkIndex - b.heartbeat.chunkIndex)), sortedCodeUnits(MANY));
});

t.test('a change of claims sends every chunk again, then rotation resumes', async (t) => {
  const s = sender();
  s.beat(0, ['eth0'], MANY, nobody);
  t.equal(s.beat(100, ['eth0'], MANY, nobody).length, 1);
  const changed = [...MANY.slice(1), '10.9.9.9'];
  const out = s.beat(200, ['eth0'], changed, nobody);
  t.ok(out.length > 1, 'all chunks at once');
  t.same(indexes(out), range(out[0]?.heartbeat.chunkCount ?? 0));
  t.same(union(out), sortedCodeUnits(changed));
  t.ok(out.every((o) => o.heartbeat.claimsDigest === claimsDigest(changed)), 'the new digest');
  t.equal(s.beat(300, ['eth0'], changed, nobody).length, 1, 'then one chunk a beat again');

  // the same set spelled or ordered differently is no change
  const respelled = [...changed].sort().map((ip) => (ip === '10.9.9.9' ? ' 10.9.9.9 ' : ip));
  t.equal(s.beat(400, ['eth0'], respelled, nobody).length, 1, 'the same set in another order is not a change');

  // shrinking to nothing (a withdrawal) is a change too, sent at once
  const empty = s.beat(500, ['eth0'], [], nobody);
  t.match(empty, [{ heartbeat: { chunkIndex: 0, chunkCount: 1, claimsTotal: 0, claims: [], claimsDigest: claimsDigest([]) } }]);
});

t.test('an interface that was not in the last round gets every chunk on its first beat', async (t) => {
  const s = sender();
  s.beat(0, ['eth0'], MANY, nobody);
  s.beat(100, ['eth0'], MANY, nobody);
  const out = s.beat(200, ['eth0', 'eth1'], MANY, nobody);
  t.equal(byIf(out, 'eth0').length, 1, 'eth0 keeps rotating');
  const eth1 = byIf(out, 'eth1');
  t.same(indexes(eth1), range(eth1[0]?.heartbeat.chunkCount ?? 0), 'eth1, new: every chunk');
  t.same(union(eth1), sortedCodeUnits(MANY));
  t.equal(byIf(s.beat(300, ['eth0', 'eth1'], MANY, nobody), 'eth1').length, 1, 'then eth1 rotates too');

  // an interface that went away and came back is new again
  s.beat(400, ['eth0'], MANY, nobody);
  t.ok(byIf(s.beat(500, ['eth0', 'eth1'], MANY, nobody), 'eth1').length > 1, 'eth1, back: every chunk');
});

t.test('claims that changed while no interface was open go out whole once one is', async (t) => {
  const s = sender();
  s.beat(0, ['eth0'], MANY, nobody);
  t.same(s.beat(100, [], [...MANY, '10.9.9.9'], nobody), [], 'no interfaces, no heartbeats');
  const out = s.beat(200, ['eth0'], [...MANY, '10.9.9.9'], nobody);
  t.ok(out.length > 1, `every chunk (${out.length})`);
  t.same(union(out), sortedCodeUnits([...MANY, '10.9.9.9']));
});

t.test('seq strictly increases across frames, interfaces and beats', async (t) => {
  const s = sender();
  const seqs: number[] = [];
  const claimsByBeat = [MANY, MANY, MANY.slice(7), MANY.slice(7), [], ['192.0.2.1']];
  claimsByBeat.forEach((claims, beat) => {
    for (const o of s.beat(beat * 100, ['eth0', 'eth1', 'eth2'], claims, nobody)) seqs.push(o.heartbeat.seq);
  });
  t.ok(seqs.length > 20, `${seqs.length} heartbeats`);
  t.equal(seqs[0], 1, 'the first heartbeat is seq 1');
  t.same(seqs, range(seqs.length).map((i) => i + 1), 'one more for every heartbeat, none skipped or repeated');
  // a stall does not reset the sequence
  s.checkStall(100_000, 1000);
  t.equal(s.beat(100_000, ['eth0'], [], nobody)[0]?.heartbeat.seq, seqs.length + 1);
});

t.test('flags', async (t) => {
  const s = sender();
  const flagsAt = (now: number): unknown => s.beat(now, ['eth0', 'eth1'], ['192.0.2.1'], nobody).map((o) => o.heartbeat.flags);
  const rows: [what: string, set: () => void, want: { leaving: boolean; apiReachable: boolean; rejoining: boolean; unfit: boolean }][] = [
    ['defaults', () => {}, { leaving: false, apiReachable: true, rejoining: false, unfit: false }],
    ['leaving', () => s.setLeaving(true), { leaving: true, apiReachable: true, rejoining: false, unfit: false }],
    ['leaving, API unreachable', () => s.setApiReachable(false), { leaving: true, apiReachable: false, rejoining: false, unfit: false }],
    ['API unreachable', () => s.setLeaving(false), { leaving: false, apiReachable: false, rejoining: false, unfit: false }],
    ['API reachable again', () => s.setApiReachable(true), { leaving: false, apiReachable: true, rejoining: false, unfit: false }],
    ['unfit', () => s.setUnfit(true), { leaving: false, apiReachable: true, rejoining: false, unfit: true }],
    ['fit again', () => s.setUnfit(false), { leaving: false, apiReachable: true, rejoining: false, unfit: false }],
  ];
  rows.forEach(([what, set, want], i) => {
    set();
    t.same(flagsAt(i * 100), [want, want], what);
  });
});

t.test('checkStall', async (t) => {
  t.test('nothing to judge before the first beat', async (t) => {
    const s = sender();
    t.equal(s.checkStall(1_000_000, 5000), undefined);
    t.same(s.beat(1_000_000, ['eth0'], [], nobody)[0]?.heartbeat.flags.rejoining, false, 'not rejoining');
  });

  t.test('within stallAfterMs of the last beat: no stall', async (t) => {
    const s = sender();
    s.beat(1000, ['eth0'], [], nobody);
    for (const now of [1000, 1001, 1000 + STALL_AFTER_MS - 1, 1000 + STALL_AFTER_MS]) t.equal(s.checkStall(now, 5000), undefined, `at +${now - 1000}`);
    s.beat(1800, ['eth0'], [], nobody);
    t.equal(s.checkStall(1800 + STALL_AFTER_MS, 5000), undefined, 'judged from the latest beat');
    t.equal(s.beat(1900, ['eth0'], [], nobody)[0]?.heartbeat.flags.rejoining, false);
  });

  t.test('a stall: the gap once, then rejoining for rejoinMs', async (t) => {
    const s = sender();
    s.beat(1000, ['eth0'], [], nobody);
    const stalledAt = 1000 + STALL_AFTER_MS + 1;
    t.equal(s.checkStall(stalledAt, 3000), STALL_AFTER_MS + 1, 'the gap');
    t.equal(s.checkStall(stalledAt, 3000), undefined, 'once');
    t.equal(s.checkStall(stalledAt + 1, 3000), undefined, 'once, a moment later');
    t.equal(s.checkStall(stalledAt + STALL_AFTER_MS, 3000), undefined, 'nor within stallAfterMs of noticing it');
    const rejoining = (now: number): boolean | undefined => s.beat(now, ['eth0'], [], nobody)[0]?.heartbeat.flags.rejoining;
    t.equal(rejoining(stalledAt + STALL_AFTER_MS), true, 'the next beat says rejoining');
    t.equal(rejoining(stalledAt + 2999), true, 'until rejoinMs has passed');
    t.equal(rejoining(stalledAt + 3000), false, 'and not after');
  });

  t.test('resumed: heartbeats stop saying rejoining at once, however long rejoinMs was', async (t) => {
    const s = sender();
    s.beat(1000, ['eth0'], [], nobody);
    const stalledAt = 1000 + STALL_AFTER_MS + 1;
    s.checkStall(stalledAt, 60_000);
    const rejoining = (now: number): boolean | undefined => s.beat(now, ['eth0'], [], nobody)[0]?.heartbeat.flags.rejoining;
    t.equal(rejoining(stalledAt + 100), true, 'rejoining while the speaker waits for its peers');
    s.resumed();
    t.equal(rejoining(stalledAt + 200), false, 'not once it answers again');
  });

  t.test('a second stall is reported again, with its own gap', async (t) => {
    const s = sender();
    s.beat(0, ['eth0'], [], nobody);
    t.equal(s.checkStall(5000, 1000), 5000);
    s.beat(5100, ['eth0'], [], nobody);
    t.equal(s.checkStall(5100 + 7000, 1000), 7000);
    t.equal(s.beat(5100 + 7000, ['eth0'], [], nobody)[0]?.heartbeat.flags.rejoining, true);
  });
});

t.test('2,000 IPv4 claims: every chunk encodes within one frame, the chunks are the claims', async (t) => {
  const key = HeartbeatKey.fromSecret(Buffer.from('0123456789abcdef0123456789abcdef'));
  const mac = MacAddress.parse('02:42:ac:11:00:02');
  const longName = `n${'x'.repeat(252)}`; // 253 bytes, the longest name
  const peers = Array.from({ length: 100 }, (_, i) => `worker-${i}`);
  const rows: [what: string, node: string, heard: string[], claims: string[]][] = [
    ['short name, nobody heard', NODE, [], MANY],
    ['longest name, 100 peers heard', longName, peers, MANY],
    ['IPv4 and IPv6 mixed', NODE, peers.slice(0, 3), [...MANY.slice(0, 1000), ...range(1000).map((i) => `2001:db8::${i.toString(16)}`)]],
  ];
  for (const [what, node, heard, claims] of rows) {
    const s = new HeartbeatSender({ node, incarnation: INCARNATION, stallAfterMs: STALL_AFTER_MS });
    const out = s.beat(0, ['eth0'], claims, () => heard);
    const lengths = out.map((o) => encodeHeartbeat(o.heartbeat, mac, key).length);
    t.ok(out.length > 1, `${what}: ${out.length} chunks`);
    t.ok(Math.max(...lengths) <= HEARTBEAT_MAX_FRAME, `${what}: largest frame ${Math.max(...lengths)} bytes`);
    t.ok(Math.max(...lengths) > HEARTBEAT_MAX_FRAME - 20, `${what}: chunks are filled, not split needlessly`);
    t.same(union(out), sortedCodeUnits(claims), `${what}: the chunks, in order, are the sorted claims`);
    t.equal(new Set(union(out)).size, claims.length, `${what}: no claim twice`);
    const decoded = out.map((o) => decodeHeartbeat(encodeHeartbeat(o.heartbeat, mac, key), [key]));
    t.ok(decoded.every((d, i) => d.ok && d.heartbeat.chunkIndex === i && d.heartbeat.seq === out[i]?.heartbeat.seq), `${what}: every frame decodes`);
  }
});

t.test('frames fit the link: on a 1400-byte MTU every frame is at most 1414 bytes, on 1500 and jumbo links 1514', async (t) => {
  const key = HeartbeatKey.fromSecret(Buffer.from('0123456789abcdef0123456789abcdef'));
  const mac = MacAddress.parse('02:42:ac:11:00:02');
  const mtus: Record<string, number> = { vxlan0: 1400, eth0: 1500, jumbo0: 9000 };
  const s = new HeartbeatSender({ node: NODE, incarnation: INCARNATION, stallAfterMs: STALL_AFTER_MS });
  const out = s.beat(0, Object.keys(mtus), MANY, () => ['peer-a', 'peer-b'], (ifname) => heartbeatFrameLimit(mtus[ifname] ?? 0));
  for (const [ifname, mtu] of Object.entries(mtus)) {
    const mine = out.filter((o) => o.ifname === ifname);
    const limit = 14 + Math.min(mtu, 1500);
    const lengths = mine.map((o) => encodeHeartbeat(o.heartbeat, mac, key, limit).length);
    t.ok(Math.max(...lengths) <= limit, `${ifname} (MTU ${mtu}): largest frame ${Math.max(...lengths)} bytes, limit ${limit}`);
    t.ok(Math.max(...lengths) > limit - 20, `${ifname}: chunks are filled`);
    t.same(union(mine), sortedCodeUnits(MANY), `${ifname}: every claim goes out`);
  }
  const largestChunk = (ifname: string) => Math.max(...out.filter((o) => o.ifname === ifname).map((o) => o.heartbeat.claims.length));
  t.ok(largestChunk('vxlan0') < largestChunk('eth0'), `the small link gets smaller chunks (${largestChunk('vxlan0')} claims, not ${largestChunk('eth0')})`);
  t.throws(() => encodeHeartbeat((out.find((o) => o.ifname === 'eth0') as { heartbeat: Heartbeat }).heartbeat, mac, key, 1414), /more than 1414/, 'a full 1514-byte chunk does not pass for a 1400 link');
  t.equal(heartbeatFrameLimit(Number.NaN), HEARTBEAT_MAX_FRAME, 'an unknown MTU: the default frame');
});

t.test('the sequence wrapping moves to the next incarnation, which peers take as newer: no node is shut out by its own counter', async (t) => {
  const { Membership } = await import('../../src/election/membership.js');
  const s = sender();
  // 2^32 beats take years; start the counter just below the wrap.
  (s as unknown as { seq: number }).seq = 2 ** 32 - 3;
  const peer = new Membership('peer', { failureTimeoutMs: 400, pauseThresholdMs: 300 });
  const seen: [number, number][] = [];
  for (let beat = 0; beat < 5; beat++) {
    for (const { heartbeat } of s.beat(beat * 100, ['eth0'], [], nobody)) {
      seen.push([heartbeat.incarnation - INCARNATION, heartbeat.seq]);
      t.equal(peer.onHeartbeat('eth0', heartbeat, beat * 100), 'accepted', `beat ${beat}: incarnation +${heartbeat.incarnation - INCARNATION}, seq ${heartbeat.seq}`);
    }
  }
  t.same(seen, [[0, 2 ** 32 - 2], [0, 2 ** 32 - 1], [1, 1], [1, 2], [1, 3]]);
  t.same(peer.hearing('eth0', 400), [NODE]);
});
