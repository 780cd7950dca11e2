import fc from 'fast-check';
import t from 'tap';
import { best, chooseHolder, handoverWait, seesFree, type Contender, type HolderInput } from '../../src/election/holder-choice.js';

// Weights spelled out: a ranks above b above c above d.
const W: Record<string, bigint> = { a: 40n, b: 30n, c: 20n, d: 10n };
const weightOf = (n: string): bigint => W[n] ?? 0n;
const peer = (node: string, announces = false, hearsMe = true): Contender => ({ node, announces, hearsMe });
const base: HolderInput = { self: 'b', selfEligible: true, selfAnnounces: false, mayTakeNew: true, contenders: [], weightOf };

t.test('the rules, one row each', async (t) => {
  const rows: [string, Partial<HolderInput>, boolean, string][] = [
    ['ineligible never announces, even as holder', { selfEligible: false, selfAnnounces: true }, false, 'ineligible'],
    ['alone and free: takes it', {}, true, 'takes'],
    ['alone but still listening: waits', { mayTakeNew: false }, false, 'listening'],
    ['free, but a worse peer\'s claim set is still arriving: waits', { contenders: [{ ...peer('c'), claimsKnown: false }] }, false, 'listening'],
    ['we hold it while a peer\'s claim set is still arriving: keeps', { selfAnnounces: true, contenders: [{ ...peer('c'), claimsKnown: false }] }, true, 'keeps'],
    ['a better-ranked live node: it takes, not us', { contenders: [peer('a')] }, false, 'better-ranked'],
    ['only worse-ranked live nodes: takes', { contenders: [peer('c'), peer('d')] }, true, 'takes'],
    ['we hold it and a better node is back: no preemption', { selfAnnounces: true, contenders: [peer('a')] }, true, 'keeps'],
    ['we hold it, still listening after a restart of ours: keeps', { selfAnnounces: true, mayTakeNew: false }, true, 'keeps'],
    ['a worse node holds it: stays there', { contenders: [peer('c', true)] }, false, 'held-elsewhere'],
    ['two holders, we rank better: we keep it', { selfAnnounces: true, contenders: [peer('c', true)] }, true, 'keeps'],
    ['two holders, the other ranks better: we yield', { selfAnnounces: true, contenders: [peer('a', true)] }, false, 'held-elsewhere'],
    ['a holder that does not hear us will not yield: we do', { selfAnnounces: true, contenders: [peer('d', true, false)] }, false, 'not-heard'],
    ['a non-holder that does not hear us changes nothing', { selfAnnounces: true, contenders: [peer('a', false, false)] }, true, 'keeps'],
    ['free, better-ranked peer does not hear us: it takes it anyway', { contenders: [peer('a', false, false)] }, false, 'better-ranked'],
    ['we took it while a better node stalled; it is back, rejoining, still claiming: we keep it', { selfAnnounces: true, contenders: [{ ...peer('a', true), rejoining: true }] }, true, 'keeps'],
    ['a rejoining node alone claims it: it stays there, nobody takes it', { contenders: [{ ...peer('c', true), rejoining: true }] }, false, 'held-elsewhere'],
    ['we are back from a stall and someone else announces it: we yield, whatever the rank', { selfAnnounces: true, rejoining: true, contenders: [peer('d', true)] }, false, 'held-elsewhere'],
    ['we are back from a stall and nobody else announces it: we keep it', { selfAnnounces: true, rejoining: true, contenders: [peer('a'), { ...peer('c', true), rejoining: true }] }, true, 'keeps'],
  ];
  for (const [name, input, announce, why] of rows) {
    const v = chooseHolder({ ...base, ...input });
    t.same([v.announce, v.why], [announce, why], name);
  }
});

t.test('silence hands over: the k-th ranked takes a free IP after k turns of the better-ranked', async (t) => {
  const wait = handoverWait(400);
  t.same([wait(1), wait(2)], [900, 1800], 'one turn: a failure timeout and 500 ms');
  const rows: [string, Partial<HolderInput>, boolean, string, number | undefined][] = [
    ['second, just seen free: waits one turn', { contenders: [peer('a')], freeForMs: 0 }, false, 'better-ranked', 900],
    ['second, free for 600 ms: 300 ms to go', { contenders: [peer('a')], freeForMs: 600 }, false, 'better-ranked', 300],
    ['second, free for one turn: takes it', { contenders: [peer('a')], freeForMs: 900 }, true, 'takes', undefined],
    ['third, free for one turn: the second has its turn first', { self: 'c', contenders: [peer('a'), peer('b')], freeForMs: 900 }, false, 'better-ranked', 900],
    ['third, free for two turns: takes it', { self: 'c', contenders: [peer('a'), peer('b')], freeForMs: 1800 }, true, 'takes', undefined],
    ['second, its turn come, still listening: waits', { contenders: [peer('a')], freeForMs: 900, mayTakeNew: false }, false, 'listening', undefined],
    ['second, its turn come, a claim set still arriving: waits', { contenders: [{ ...peer('a'), claimsKnown: false }], freeForMs: 5000 }, false, 'listening', undefined],
    ['a peer announces it: no handover, however long we waited', { contenders: [peer('a', true)], freeForMs: 5000 }, false, 'held-elsewhere', undefined],
    ['no handover wait given: the best-ranked alone takes', { contenders: [peer('a')], freeForMs: 5000, handoverAfterMs: undefined }, false, 'better-ranked', undefined],
  ];
  for (const [name, input, announce, why, inMs] of rows) {
    const v = chooseHolder({ ...base, handoverAfterMs: wait, ...input });
    t.same([v.announce, v.why, v.why === 'better-ranked' ? v.inMs : undefined], [announce, why, inMs], name);
  }
  t.ok(seesFree(chooseHolder({ ...base, contenders: [peer('a')] })), 'waiting on a better-ranked node: free');
  t.notOk(seesFree(chooseHolder({ ...base, contenders: [peer('c', true)] })), 'held by a peer: not free');
  t.notOk(seesFree(chooseHolder({ ...base, selfAnnounces: true })), 'held here: not free');
});

t.test('best: highest weight, ties to the smaller name, undefined for none', async (t) => {
  t.equal(best(['c', 'a', 'b'], weightOf), 'a');
  t.equal(best(['y', 'x'], () => 5n), 'x');
  t.equal(best([], weightOf), undefined);
});

t.test('property: nodes that share one view agree on exactly one announcer', async (t) => {
  const nodes = ['a', 'b', 'c', 'd'];
  fc.assert(
    fc.property(fc.subarray(nodes, { minLength: 1 }), fc.subarray(nodes), (live, holders) => {
      // Every live node sees every other live node, hears it, and knows who holds the IP.
      const verdicts = live.map((self) =>
        chooseHolder({
          self,
          selfEligible: true,
          selfAnnounces: holders.includes(self),
          mayTakeNew: true,
          contenders: live.filter((n) => n !== self).map((n) => peer(n, holders.includes(n))),
          weightOf,
        }),
      );
      const announcers = live.filter((_, i) => verdicts[i]?.announce);
      const liveHolders = holders.filter((h) => live.includes(h));
      if (announcers.length !== 1) return false;
      // No preemption: if a live node held it, one of them keeps it.
      return liveHolders.length === 0 || liveHolders.includes(announcers[0] as string);
    }),
  );
  t.pass('one announcer for every view');
});
