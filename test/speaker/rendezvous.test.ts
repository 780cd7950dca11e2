import t from 'tap';
import fc from 'fast-check';
import { rankCandidates, rankOf, weight } from '../../src/speaker/rendezvous.js';

const nodeName = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

t.test('pinned: the order never changes across versions, processes or platforms', async (t) => {
  // Computed once (and cross-checked with an independent Python FNV-1a + fmix64) and pinned:
  // a change here moves announced IPs between nodes on upgrade.
  t.equal(weight('10.0.0.1', 'node-a').toString(16), 'a6424330754d5c3');
  t.same(rankCandidates('192.0.2.10', ['node-a', 'node-b', 'node-c', 'node-d']), ['node-d', 'node-a', 'node-c', 'node-b']);
  t.same(rankCandidates('2001:db8::1', ['node-a', 'node-b', 'node-c', 'node-d']), ['node-c', 'node-b', 'node-d', 'node-a']);
});

t.test('the same inputs give the same order, whatever order the nodes come in', async (t) => {
  fc.assert(
    fc.property(ipv4, fc.uniqueArray(nodeName, { minLength: 1, maxLength: 8 }), fc.nat(), (ip, nodes, seed) => {
      const shuffled = [...nodes].sort((a, b) => weight(String(seed), a) > weight(String(seed), b) ? 1 : -1);
      const ranked = rankCandidates(ip, nodes);
      return (
        JSON.stringify(ranked) === JSON.stringify(rankCandidates(ip, shuffled)) &&
        ranked.length === nodes.length &&
        nodes.every((n) => ranked.includes(n))
      );
    }),
    { numRuns: 300 },
  );
  t.pass('300 random node sets ranked identically in any input order');
});

t.test('weight order: descending weight, names only break ties', async (t) => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const ranked = rankCandidates('198.51.100.3', nodes);
  for (let i = 1; i < ranked.length; i++) {
    t.ok(weight('198.51.100.3', ranked[i - 1] as string) > weight('198.51.100.3', ranked[i] as string), `rank ${i - 1} outweighs rank ${i}`);
  }
});

t.test('IPs are ranked by their canonical form', async (t) => {
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  t.same(rankCandidates('2001:DB8:0:0::1', nodes), rankCandidates('2001:db8::1', nodes));
  t.same(rankCandidates(' 192.0.2.1 ', nodes), rankCandidates('192.0.2.1', nodes));
  t.equal(weight('2001:0db8::0001', 'a'), weight('2001:db8::1', 'a'));
  t.not(weight('192.0.2.1', 'a'), weight('192.0.2.2', 'a'), 'different IPs weigh differently');
  t.not(weight('192.0.2.1', 'a'), weight('192.0.2.1', 'b'), 'different nodes weigh differently');
  // node and IP are separated, so moving characters between them changes the weight
  t.not(weight('1.2.3.4', 'n1'), weight('11.2.3.4', 'n'));
});

t.test('edge inputs', async (t) => {
  t.same(rankCandidates('192.0.2.1', []), []);
  t.same(rankCandidates('192.0.2.1', ['only']), ['only']);
  t.same(rankCandidates('192.0.2.1', ['a', 'b', 'a', 'b']), rankCandidates('192.0.2.1', ['a', 'b']), 'duplicates ignored');
  t.equal(rankCandidates('192.0.2.1', ['a', 'b', 'a']).length, 2);
  t.same(rankCandidates('not-an-ip', ['a', 'b']).sort(), ['a', 'b'], 'a non-IP key is still ranked (as given)');
});

t.test('rankOf is the position in rankCandidates, -1 for strangers', async (t) => {
  const nodes = ['w1', 'w2', 'w3', 'w4'];
  const ranked = rankCandidates('203.0.113.9', nodes);
  ranked.forEach((n, i) => t.equal(rankOf('203.0.113.9', n, nodes), i, n));
  t.equal(rankOf('203.0.113.9', 'w9', nodes), -1);
  t.equal(rankOf('203.0.113.9', 'w1', []), -1);
});

t.test('spread: 1,000 IPs over 3 nodes give every node 25-42% of first ranks', async (t) => {
  const nodes = ['worker-1', 'worker-2', 'worker-3'];
  const firsts = new Map(nodes.map((n) => [n, 0]));
  for (let i = 0; i < 1000; i++) {
    const first = rankCandidates(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`, nodes)[0] as string;
    firsts.set(first, (firsts.get(first) ?? 0) + 1);
  }
  for (const [n, count] of firsts) t.ok(count >= 250 && count <= 420, `${n}: ${count} of 1000 first ranks`);
  // consecutive addresses of one /24 spread too (the last octet must reach the high bits)
  const consecutive = new Map(nodes.map((n) => [n, 0]));
  for (let i = 0; i < 256; i++) {
    const first = rankCandidates(`192.168.1.${i}`, nodes)[0] as string;
    consecutive.set(first, (consecutive.get(first) ?? 0) + 1);
  }
  for (const [n, count] of consecutive) t.ok(count >= 256 * 0.2 && count <= 256 * 0.47, `${n}: ${count} of 256 consecutive`);
});

t.test('removing a node moves only the IPs it ranked first for; the rest keep their order', async (t) => {
  let moved = 0;
  fc.assert(
    fc.property(fc.uniqueArray(nodeName, { minLength: 2, maxLength: 6 }), fc.nat(), fc.array(ipv4, { minLength: 1, maxLength: 30 }), (nodes, pick, ips) => {
      const gone = nodes[pick % nodes.length] as string;
      const rest = nodes.filter((n) => n !== gone);
      for (const ip of ips) {
        const before = rankCandidates(ip, nodes);
        const after = rankCandidates(ip, rest);
        if (JSON.stringify(after) !== JSON.stringify(before.filter((n) => n !== gone))) return false;
        if (before[0] !== after[0]) {
          if (before[0] !== gone) return false;
          moved++;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.ok(moved > 0, `some IPs did move (${moved}), so the check was not vacuous`);
});

t.test('adding a node takes over only the IPs it now ranks first for', async (t) => {
  const nodes = ['a1', 'a2', 'a3'];
  let taken = 0;
  const elsewhere: string[] = [];
  for (let i = 0; i < 500; i++) {
    const ip = `172.16.${i >> 8}.${i & 255}`;
    const before = rankCandidates(ip, nodes)[0];
    const after = rankCandidates(ip, [...nodes, 'a4'])[0];
    if (before !== after) {
      if (after === 'a4') taken++;
      else elsewhere.push(ip);
    }
  }
  t.same(elsewhere, [], 'no IP moved between the old nodes');
  t.ok(taken >= 500 * 0.15 && taken <= 500 * 0.35, `the new node took about a quarter (${taken} of 500)`);
});
