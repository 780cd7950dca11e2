import t from 'tap';
import { LeaseObservation } from '../../src/election/lease-observation.js';

const rec = (holder: string | undefined, version: string, durationSeconds = 10) => ({ holder, version, durationSeconds });

t.test('expiry is judged by local time since the record last changed', async (t) => {
  const o = new LeaseObservation();
  t.ok(o.isFree(0), 'no lease seen: free');
  o.observe(rec('a', '1'), 1_000);
  t.notOk(o.isFree(10_000), 'held and renewed recently');
  o.observe(rec('a', '1'), 9_000);
  t.notOk(o.isFree(11_000), 'seeing the same version again does not restart the clock');
  t.ok(o.isFree(11_001), 'unchanged for longer than its duration: free');
  o.observe(rec('a', '2'), 11_500);
  t.notOk(o.isFree(21_000), 'a renewal restarts the clock');
  t.ok(o.heldBy('a'));
  t.notOk(o.heldBy('b'));
});

t.test('a released lease (no holder) is free at once', async (t) => {
  const o = new LeaseObservation();
  o.observe(rec(undefined, '3'), 5_000);
  t.ok(o.isFree(5_000));
  o.observe(undefined, 6_000);
  t.ok(o.isFree(6_000), 'a deleted lease is free');
});
