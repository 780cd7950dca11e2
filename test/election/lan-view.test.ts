import t from 'tap';
import { lanView } from '../../src/election/lan-view.js';
import type { LivePeer } from '../../src/election/membership.js';
import type { SpeakerLeaseView } from '../../src/election/speaker-lease.js';

const LAN = '198.51.100.0/24';
const lease = (node: string, hears: string[], announces: string[] = [], segments = [LAN]): SpeakerLeaseView => ({
  node, announces, hears, segments, keys: undefined, renewMs: undefined, durationSeconds: 30,
});
const heardPeer: LivePeer = { node: 'b', claims: new Set(), claimsKnown: true, hearsMe: true, apiReachable: true, rejoining: false };

t.test('what an interface\'s silence means', async (t) => {
  const rows: [string, LivePeer[], SpeakerLeaseView[], string][] = [
    ['hears a peer: the LAN decides', [heardPeer], [lease('b', ['a']), lease('c', [])], 'lan'],
    ['hears nobody, no other speaker live: alone, the LAN decides', [], [lease('a', [])], 'lan'],
    ['hears nobody, nor does any live speaker: deaf, the API judges', [], [lease('a', []), lease('b', []), lease('c', [])], 'deaf'],
    ['hears nobody, the others hear each other: cut off', [], [lease('b', ['c']), lease('c', ['b'])], 'cut-off'],
    ['hears nobody, but another hears it: one-way loss, the LAN\'s rule settles it', [], [lease('b', ['a', 'c']), lease('c', ['b'])], 'lan'],
    ['the others speak on other subnets only: alone on this one', [], [lease('b', [], [], ['203.0.113.0/24'])], 'lan'],
    ['a speaker that does not say its subnets is not counted', [], [lease('b', [], [], [])], 'lan'],
  ];
  for (const [name, heard, leases, want] of rows) t.equal(lanView('a', heard, leases, [LAN]).kind, want, name);
});

t.test('deaf: the Leases\' speakers contend, with what their Leases say they announce, heard by all', async (t) => {
  const v = lanView('a', [], [lease('b', [], ['198.51.100.200']), lease('c', [])], [LAN, '2001:db8::/64']);
  t.equal(v.kind, 'deaf');
  if (v.kind === 'lan') return;
  t.same(
    v.peers.map((p) => [p.node, [...p.claims], p.claimsKnown, p.hearsMe, p.rejoining]),
    [['b', ['198.51.100.200'], true, true, false], ['c', [], true, true, false]],
  );
});
