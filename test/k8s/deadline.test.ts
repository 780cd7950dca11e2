import t from 'tap';
import { ApiDeadlineError, withDeadline } from '../../src/k8s/deadline.js';
import { BarelbError } from '../../src/errors.js';

const never = <T>(): Promise<T> => new Promise<T>(() => {});
const after = <T>(ms: number, f: () => T): Promise<T> => new Promise<T>((resolve, reject) => setTimeout(() => {
  try {
    resolve(f());
  } catch (err) {
    reject(err);
  }
}, ms));

t.test('a call that never answers rejects with ApiDeadlineError after ms', async (t) => {
  const started = performance.now();
  const err = await withDeadline(never(), 30, 'get Secret ns/name').then(
    () => undefined,
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  t.ok(err instanceof ApiDeadlineError, 'ApiDeadlineError');
  t.ok(err instanceof BarelbError, 'a BarelbError');
  const e = err as ApiDeadlineError;
  t.equal(e.code, 'BARELB_API_DEADLINE');
  t.equal(e.name, 'ApiDeadlineError');
  t.equal(e.operation, 'get Secret ns/name');
  t.equal(e.ms, 30);
  t.equal(e.message, 'get Secret ns/name: no answer within 30 ms');
  t.ok(elapsed >= 25 && elapsed < 1000, `rejected after about 30 ms (${elapsed.toFixed(1)} ms)`);
});

t.test('an answer within the deadline is passed through, value or error', async (t) => {
  t.equal(await withDeadline(Promise.resolve(7), 1000, 'op'), 7, 'already settled');
  t.equal(await withDeadline(after(5, () => 'late but in time'), 1000, 'op'), 'late but in time');
  const boom = Object.assign(new Error('not found'), { code: 404 });
  await t.rejects(withDeadline(Promise.reject(boom), 1000, 'op'), boom, 'a rejection is passed through as is');
  await t.rejects(withDeadline(after(5, () => { throw boom; }), 1000, 'op'), boom);
});

t.test('an answer after the deadline changes nothing', async (t) => {
  // rejects later: must not surface as an unhandled rejection, nor replace the deadline error
  const late = after(40, () => {
    throw new Error('late');
  });
  await t.rejects(withDeadline(late, 10, 'op'), { code: 'BARELB_API_DEADLINE' });
  await t.rejects(late, { message: 'late' }, 'the late call itself still settles');
});

t.test('the timer is cleared once the call answers: nothing keeps the process alive', async (t) => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await withDeadline(Promise.resolve(1), 60_000, 'op');
  await withDeadline(Promise.reject(new Error('x')), 60_000, 'op').catch(() => undefined);
  const afterCount = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  t.equal(afterCount, before, 'no 60 s timer left behind');
});
