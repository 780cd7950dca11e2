import t from 'tap';
import fc from 'fast-check';
import { IntervalSet } from '../../src/ipam/interval-set.js';

t.test('matches a plain Set under random adds and deletes', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 200 }), (ops) => {
      const s = new IntervalSet();
      const model = new Set<number>();
      for (const [add, v] of ops) {
        const changed = add ? s.add(BigInt(v)) : s.delete(BigInt(v));
        const modelChanged = add ? !model.has(v) : model.has(v);
        if (add) model.add(v);
        else model.delete(v);
        if (changed !== modelChanged) return false;
      }
      for (let v = 0; v <= 40; v++) if (s.has(BigInt(v)) !== model.has(v)) return false;
      let lowest: number | undefined;
      for (let v = 5; v <= 30; v++) if (!model.has(v)) { lowest = v; break; }
      const got = s.lowestAbsent(5n, 30n);
      if ((got === undefined ? undefined : Number(got)) !== lowest) return false;
      return s.countIn(0n, 40n) === BigInt(model.size);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random sequences agreed with the model');
});

t.test('keeps one interval for a contiguous block', async (t) => {
  const s = new IntervalSet();
  for (let v = 0n; v < 1000n; v++) s.add(v);
  t.equal(s.intervalCount, 1);
  s.delete(500n);
  t.equal(s.intervalCount, 2);
  t.equal(s.lowestAbsent(0n, 999n), 500n);
  s.add(500n);
  t.equal(s.intervalCount, 1);
  t.equal(s.lowestAbsent(0n, 999n), undefined);
});
