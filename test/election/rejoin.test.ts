import t from 'tap';
import { REJOIN_CLAIMS_WAIT_MS, mayResume, resumeCheckAtMs } from '../../src/election/rejoin.js';

const known = { claimsKnown: true };
const arriving = { claimsKnown: false };

t.test('a node back from a stall answers again once it has listened and knows every peer\'s whole claim set', async (t) => {
  const until = 10_000;
  const rows: [string, number, { claimsKnown?: boolean }[], boolean][] = [
    ['still listening', 9_999, [known], false],
    ['listened, every set known', 10_000, [known, known], true],
    ['listened, alone', 10_000, [], true],
    ['listened, a set still arriving in chunks', 10_000, [known, arriving], false],
    ['a peer without the field counts as known', 10_000, [{}], true],
    ['a set that never completes: answers after the bounded wait', until + REJOIN_CLAIMS_WAIT_MS, [arriving], true],
    ['1 ms before the bound', until + REJOIN_CLAIMS_WAIT_MS - 1, [arriving], false],
  ];
  for (const [name, now, peers, want] of rows) t.equal(mayResume(now, until, peers), want, name);
});

t.test('asks again at the window\'s end, then at the wait\'s', async (t) => {
  t.equal(resumeCheckAtMs(9_000, 10_000), 10_000);
  t.equal(resumeCheckAtMs(10_000, 10_000), 10_000 + REJOIN_CLAIMS_WAIT_MS);
});
