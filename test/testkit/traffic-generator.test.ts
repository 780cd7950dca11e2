import t from 'tap';
import { TargetWindow } from '../../testkit/traffic-generator.js';

t.test('a window counts requests, failures, backends and the longest gap between successes', async (t) => {
  const w = new TargetWindow(1_000);
  w.ok(1_050, 'backend-node1');
  w.ok(1_100, 'backend-node2');
  w.failed('timeout');
  w.failed('ECONNREFUSED');
  w.failed('timeout');
  w.ok(3_100, 'backend-node2');
  w.ok(3_150, 'backend-node1');
  t.same(w.stats(3_200), {
    requests: 7,
    failures: 3,
    longestGapMs: 2_000,
    currentGapMs: 50,
    backends: { 'backend-node1': 2, 'backend-node2': 2 },
    errors: { timeout: 2, ECONNREFUSED: 1 },
    longestGapEndedAtMs: 2_100,
  });
});

t.test('a gap still open counts, from the window start when nothing ever answered', async (t) => {
  const w = new TargetWindow(0);
  w.failed('timeout');
  t.same([w.stats(5_000).longestGapMs, w.stats(5_000).currentGapMs, w.stats(5_000).longestGapEndedAtMs], [5_000, 5_000, -1]);
  w.ok(5_000, 'b');
  w.ok(5_100, 'b');
  const s = w.stats(12_000);
  t.same([s.longestGapMs, s.currentGapMs, s.longestGapEndedAtMs], [6_900, 6_900, -1], 'the open gap is the longest now');
  t.same(w.stats(5_200).longestGapEndedAtMs, 5_000, 'until then the closed one was');
});
