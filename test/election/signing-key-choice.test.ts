import fc from 'fast-check';
import t from 'tap';
import { chooseKeys, type KeyRing, type PeerKeys } from '../../src/election/signing-key-choice.js';

// Keys are spelled by name here; a fingerprint is the name upper-cased.
const idOf = (k: string): string => k.toUpperCase();
const peer = (node: string, ...keys: string[]): PeerKeys => ({ node, keys: keys.map(idOf) });
const ring = (signing: string, ...others: string[]): KeyRing => ({ signing, accepted: [signing, ...others] });

t.test('the rules, one row each', async (t) => {
  const rows: [string, readonly string[], KeyRing | undefined, PeerKeys[], KeyRing | undefined][] = [
    ['no Secret, nothing in use: no key', [], undefined, [], undefined],
    ['first start: signs with the Secret\'s key, accepts both', ['new', 'old'], undefined, [], ring('new', 'old')],
    ['rotation read, a peer does not hold the new key yet: keeps signing with the old', ['new', 'old'], ring('old'), [peer('b', 'old')], ring('old', 'new')],
    ['every live peer holds it: switches', ['new', 'old'], ring('old', 'new'), [peer('b', 'old', 'new'), peer('c', 'new', 'old')], ring('new', 'old')],
    ['alone: switches at once', ['new', 'old'], ring('old'), [], ring('new', 'old')],
    ['previous-key removed while a peer still signs with it: still accepted', ['new'], ring('new', 'old'), [peer('b', 'old', 'new')], ring('new', 'old')],
    ['previous-key removed, nobody signs with it any more: dropped', ['new'], ring('new', 'old'), [peer('b', 'new', 'old')], ring('new')],
    ['previous-key removed before this node switched: its own key stays until every peer holds the new', ['new'], ring('old'), [peer('b', 'old')], ring('old', 'new')],
    ['the Secret unreadable or deleted: what is in use stays', [], ring('old'), [peer('b', 'old')], ring('old')],
    ['the Secret made again under a fresh key: signs with the old until every peer holds the fresh one', ['fresh'], ring('old'), [peer('b', 'old')], ring('old', 'fresh')],
    ['an older speaker that does not say: nothing is switched to, nothing dropped', ['new'], ring('old', 'older'), [{ node: 'b', keys: undefined }], ring('old', 'new', 'older')],
  ];
  for (const [name, secret, current, peers, want] of rows) t.same(chooseKeys({ secret, current, peers, idOf }), want, name);
});

t.test('property: a rotation run by speakers reading the Secret at random times never leaves one unable to verify another', async (t) => {
  // Each speaker reads the Secret at its own time (its 30 s poll), some never; each step every speaker
  // chooses from what the others published in the step before (a Lease write behind). At every step,
  // everyone must accept what everyone signs with.
  fc.assert(
    fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 30 }), (readAt, removeAt) => {
      let rings: (KeyRing | undefined)[] = readAt.map(() => chooseKeys({ secret: ['old'], current: undefined, peers: [], idOf }));
      for (let step = 0; step < 60; step++) {
        const published = rings.map((r, i): PeerKeys => ({ node: `n${i}`, keys: r?.accepted.map(idOf) }));
        rings = rings.map((r, i) => {
          const at = readAt[i];
          const secret = at === undefined || step < at ? ['old'] : step < removeAt ? ['new', 'old'] : ['new'];
          return chooseKeys({ secret, current: r, peers: published.filter((_, j) => j !== i), idOf });
        });
        for (const a of rings) for (const b of rings) if (a && b && !b.accepted.includes(a.signing)) return false;
      }
      // Once everyone read it, everyone signs with the new key.
      if (readAt.every((a) => a !== undefined)) return rings.every((r) => r?.signing === 'new');
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('no speaker signed with a key another did not accept');
});
