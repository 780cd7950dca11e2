import t from 'tap';
import fc from 'fast-check';
import { WriteSlots } from '../../src/speaker/write-slots.js';

const tick = () => new Promise((r) => setImmediate(r));

t.test('grants up to max at once, then by priority, in order within one', async (t) => {
  const slots = new WriteSlots(2, 3);
  const order: string[] = [];
  const held = await Promise.all([slots.acquire(2), slots.acquire(2)]);
  const waiters = (
    [
      ['acquire-a', 2],
      ['renew-a', 1],
      ['release-a', 0],
      ['renew-b', 1],
      ['acquire-b', 2],
    ] as const
  ).map(([name, p]) => slots.acquire(p).then((done) => (order.push(name), done)));
  await tick();
  t.equal(slots.waiting, 5);
  t.same(order, [], 'nothing granted while both slots are taken');
  held[0]?.();
  held[0]?.(); // a second call gives back nothing more
  await tick();
  t.same(order, ['release-a'], 'one slot freed: the highest priority goes');
  held[1]?.();
  await tick();
  t.same(order, ['release-a', 'renew-a']);
  for (const w of waiters) (await Promise.race([w, tick().then(() => undefined)]))?.();
  await tick();
  await tick();
  t.same(order, ['release-a', 'renew-a', 'renew-b', 'acquire-a', 'acquire-b'], 'renewals before acquisitions, each in arrival order');
  t.equal(slots.waiting, 0);
});

t.test('never more than max in flight, every request granted exactly once (property)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 })), { maxLength: 3000 }), async (max, reqs) => {
      const slots = new WriteSlots(max, 3);
      let inFlight = 0;
      let peak = 0;
      let granted = 0;
      await Promise.all(
        reqs.map(async ([p, hold]) => {
          const done = await slots.acquire(p);
          inFlight++;
          granted++;
          peak = Math.max(peak, inFlight);
          for (let i = 0; i < hold; i++) await tick();
          inFlight--;
          done();
        }),
      );
      return peak <= max && granted === reqs.length && slots.waiting === 0;
    }),
    { numRuns: 60 },
  );
  t.pass('held for random requests, including queues long enough to compact');
});
