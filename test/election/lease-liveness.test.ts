import t from 'tap';
import { SpeakerLeaseLiveness, type ObservedLease } from '../../src/election/lease-liveness.js';

const lease = (node: string, version: string, durationSeconds = 30): ObservedLease => ({
  view: { node, announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds },
  version,
});
const names = (l: SpeakerLeaseLiveness, now: number): string[] => l.live(now).map((v) => v.node).sort();

t.test('a Lease counts once it is seen written, and until its duration passes unwritten, by this clock', async (t) => {
  const l = new SpeakerLeaseLiveness();
  l.observe([lease('a', '1'), lease('stale', '7')], 0);
  t.same(names(l, 0), [], 'present at the first look: not yet (a dead speaker\'s Lease looks the same)');
  l.observe([lease('a', '2'), lease('stale', '7'), lease('new', '1')], 5_000);
  t.same(names(l, 5_000), ['a', 'new'], 'written since (renewed, or created after the first look): live');
  t.same(names(l, 35_000), ['a', 'new'], 'live for its duration after the write');
  t.same(names(l, 35_001), [], 'then not, unless written again');
  t.equal(l.nextExpiryMs(5_000), 35_001, 'and says when it runs out');
  l.observe([lease('a', '3')], 20_000);
  t.same(names(l, 40_000), ['a'], 'a new write moves its end; a deleted Lease is gone at once');
  t.equal(l.nextExpiryMs(60_001), Infinity, 'none live: no expiry to wait for');
});

t.test('its renewTime is never compared with this clock: a Lease from a clock far behind or ahead counts alike', async (t) => {
  const l = new SpeakerLeaseLiveness();
  l.observe([], 0);
  const view = (renewMs: number): ObservedLease => ({ view: { node: 'a', announces: [], hears: [], segments: [], keys: undefined, renewMs, durationSeconds: 30 }, version: String(renewMs) });
  l.observe([view(1)], 1_000);
  t.same(names(l, 1_000), ['a'], 'renewTime 1970');
  l.observe([view(9e15)], 2_000);
  t.same(names(l, 2_000), ['a'], 'renewTime in the far future');
});
