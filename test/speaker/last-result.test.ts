import t from 'tap';
import { LastResult } from '../../src/speaker/last-result.js';

t.test('computes once per key, again when the key changes, and keeps only the last', async (t) => {
  const memo = new LastResult<string, string[]>();
  let calls = 0;
  const rank = (key: string): string[] => {
    calls++;
    return key.split(',').reverse();
  };
  const first = memo.get('a,b', () => rank('a,b'));
  t.same(first, ['b', 'a']);
  t.equal(memo.get('a,b', () => rank('a,b')), first, 'the same key gives the same result, not recomputed');
  t.equal(calls, 1);
  t.same(memo.get('a,c', () => rank('a,c')), ['c', 'a'], 'a new key recomputes');
  t.equal(calls, 2);
  t.same(memo.get('a,b', () => rank('a,b')), ['b', 'a'], 'an older key is not remembered: recomputed');
  t.equal(calls, 3);
});

t.test('undefined is a result like any other, and a throwing computation leaves the last result in place', async (t) => {
  const memo = new LastResult<number, string | undefined>();
  let calls = 0;
  t.equal(memo.get(1, () => (calls++, undefined)), undefined);
  t.equal(memo.get(1, () => (calls++, 'recomputed')), undefined, 'an undefined result is remembered too');
  t.equal(calls, 1);
  t.throws(() => memo.get(2, () => {
    throw new Error('boom');
  }), /boom/);
  t.equal(memo.get(1, () => 'recomputed'), undefined, 'key 1 is still the last computed');
});
