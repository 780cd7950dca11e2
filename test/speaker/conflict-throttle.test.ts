import t from 'tap';
import fc from 'fast-check';
import { ConflictThrottle, type ConflictAction } from '../../src/speaker/conflict-throttle.js';

const VIP = '198.51.100.200';
const OTHER = '198.51.100.201';

t.test('decisions for a sequence of claims', async (t) => {
  const th = new ConflictThrottle(500);
  const rows: [string, () => ConflictAction | void, ConflictAction | undefined][] = [
    ['the first claim: re-assert at once', () => th.onClaim(VIP, 1000), { kind: 'reassert' }],
    ['a second claim 100 ms later: one more, when the interval is up', () => th.onClaim(VIP, 1100), { kind: 'schedule', atMs: 1500 }],
    ['a third before that: covered by the scheduled one', () => th.onClaim(VIP, 1200), { kind: 'covered' }],
    ['another VIP is paced on its own', () => th.onClaim(OTHER, 1200), { kind: 'reassert' }],
    ['the scheduled one goes out', () => th.fired(VIP, 1500), undefined],
    ['a claim right after: scheduled an interval after that', () => th.onClaim(VIP, 1600), { kind: 'schedule', atMs: 2000 }],
    ['the scheduled one goes out', () => th.fired(VIP, 2000), undefined],
    ['a claim long after: at once again', () => th.onClaim(VIP, 5000), { kind: 'reassert' }],
    ['after forget (VIP withdrawn and re-won), at once', () => (th.forget(VIP), th.onClaim(VIP, 5010)), { kind: 'reassert' }],
  ];
  for (const [name, step, want] of rows) {
    const got = step();
    if (want) t.same(got, want, name);
  }
});

t.test('a zero interval re-asserts every claim', async (t) => {
  const th = new ConflictThrottle(0);
  for (const now of [0, 0, 1, 1, 2]) t.same(th.onClaim(VIP, now), { kind: 'reassert' });
});

/**
 * Simulates a claimant at arbitrary times: re-assertions are at least an
 * interval apart, and every claim is followed by a re-assertion no later than
 * an interval after it (nothing is left unanswered).
 */
t.test('property: paced, and never leaves the last claim unanswered', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 200 }), (interval, deltas) => {
      const th = new ConflictThrottle(interval);
      const sent: number[] = [];
      let pending: number | undefined;
      let now = 0;
      const claims: number[] = [];
      const runUntil = (t: number): void => {
        if (pending !== undefined && pending <= t) {
          th.fired(VIP, pending);
          sent.push(pending);
          pending = undefined;
        }
      };
      for (const d of deltas) {
        now += d;
        runUntil(now);
        claims.push(now);
        const a = th.onClaim(VIP, now);
        if (a.kind === 'reassert') sent.push(now);
        else if (a.kind === 'schedule') {
          if (pending !== undefined) return false;
          pending = a.atMs;
        }
      }
      runUntil(Infinity);
      for (let i = 1; i < sent.length; i++) if ((sent[i] as number) - (sent[i - 1] as number) < interval) return false;
      return claims.every((c) => sent.some((s) => s >= c && s <= c + interval));
    }),
    { numRuns: 500 },
  );
  t.pass('500 random claim sequences');
});
