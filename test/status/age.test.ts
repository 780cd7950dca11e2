import t from 'tap';
import { formatAge } from '../../src/status/age.js';

t.test('formatAge', async (t) => {
  const rows: [number, string][] = [
    [-5_000, '0s'],
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m0s'],
    [192_000, '3m12s'],
    [3_600_000 - 1, '59m59s'],
    [3_600_000, '1h0m'],
    [5 * 3_600_000 + 3 * 60_000 + 59_000, '5h3m'],
    [24 * 3_600_000, '1d0h'],
    [52 * 3_600_000, '2d4h'],
  ];
  for (const [ms, want] of rows) t.equal(formatAge(ms), want, `${ms} ms`);
});
