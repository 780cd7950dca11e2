import t from 'tap';
import fc from 'fast-check';
import { IpStates } from '../../src/speaker/ip-states.js';

interface State {
  readonly ip: string;
  readonly lease: string;
  readonly tag: number;
}

const leaseOf = (ip: string): string => `barelb-ip-${ip.replace(/\./g, '-')}`;
const state = (ip: string, tag = 0): State => ({ ip, lease: leaseOf(ip), tag });

t.test('a state is found by its IP and by its Lease name, and by neither once deleted', async (t) => {
  const states = new IpStates<State>((s) => s.lease);
  states.set(state('198.18.0.1'));
  states.set(state('198.18.0.2'));
  t.equal(states.size, 2);
  t.ok(states.has('198.18.0.1'));
  t.equal(states.get('198.18.0.1')?.ip, '198.18.0.1');
  t.equal(states.ofLease('barelb-ip-198-18-0-2')?.ip, '198.18.0.2');
  t.equal(states.ofLease('barelb-ip-198-18-0-3'), undefined, 'a Lease of an IP the speaker does not track');
  t.ok(states.delete('198.18.0.1'));
  t.notOk(states.delete('198.18.0.1'), 'deleting twice reports the second as a no-op');
  t.equal(states.get('198.18.0.1'), undefined);
  t.notOk(states.has('198.18.0.1'));
  t.equal(states.ofLease('barelb-ip-198-18-0-1'), undefined, 'the Lease index forgets it too');
  t.same([...states.values()].map((s) => s.ip), ['198.18.0.2']);
});

t.test('replacing the state of an IP replaces it in both indexes', async (t) => {
  const states = new IpStates<State>((s) => s.lease);
  states.set(state('198.18.0.1', 1));
  states.set(state('198.18.0.1', 2));
  t.equal(states.size, 1);
  t.equal(states.get('198.18.0.1')?.tag, 2);
  t.equal(states.ofLease('barelb-ip-198-18-0-1')?.tag, 2);
});

t.test('after any sequence of sets and deletes, both lookups agree with a plain list of states', async (t) => {
  const ip = fc.tuple(fc.nat(3), fc.nat(7)).map(([a, b]) => `198.18.${a}.${b}`);
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), ip, tag: fc.nat(9) }),
    fc.record({ kind: fc.constant('delete' as const), ip }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const states = new IpStates<State>((s) => s.lease);
      let model: State[] = [];
      for (const o of ops) {
        if (o.kind === 'set') {
          states.set(state(o.ip, o.tag));
          model = [...model.filter((s) => s.ip !== o.ip), state(o.ip, o.tag)];
        } else {
          const had = model.some((s) => s.ip === o.ip);
          if (states.delete(o.ip) !== had) return false;
          model = model.filter((s) => s.ip !== o.ip);
        }
      }
      if (states.size !== model.length) return false;
      for (const s of model) {
        if (states.get(s.ip)?.tag !== s.tag || states.ofLease(s.lease)?.tag !== s.tag) return false;
      }
      const modelIps = new Set(model.map((s) => s.ip));
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 8; b++) {
          const other = `198.18.${a}.${b}`;
          if (!modelIps.has(other) && (states.get(other) || states.ofLease(leaseOf(other)))) return false;
        }
      }
      return [...states.values()].length === model.length;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random sequences of sets and deletes kept both indexes in step with the model');
});
