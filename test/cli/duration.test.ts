import t from 'tap';
import { parseDuration, parsePositiveInt } from '../../src/cli/duration.js';

t.test('durations', async (t) => {
  const ok: [string, number][] = [['15s', 15_000], ['500ms', 500], ['2m', 120_000], ['1.5s', 1500], ['1h', 3_600_000]];
  for (const [text, ms] of ok) t.equal(parseDuration('x', text), ms, text);
  for (const bad of ['15', 's', '-1s', '1d', '', '1 s5']) {
    t.throws(() => parseDuration('lease-duration', bad), { code: 'BARELB_INVALID_FLAG', message: /--lease-duration/ }, JSON.stringify(bad));
  }
});

t.test('positive integers', async (t) => {
  t.equal(parsePositiveInt('workers', '8'), 8);
  for (const bad of ['0', '-1', '1.5', 'x']) t.throws(() => parsePositiveInt('workers', bad), { code: 'BARELB_INVALID_FLAG' });
});
