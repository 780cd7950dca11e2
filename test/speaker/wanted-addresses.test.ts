import t from 'tap';
import { wantedAddresses, type WantedInput } from '../../src/speaker/wanted-addresses.js';
import { pool, view } from '../fixtures.js';

const base: WantedInput = {
  services: [],
  lbClass: 'barelb.io/barelb',
  readyNodes: new Map(),
  pools: [pool('lan', ['198.51.100.200-198.51.100.250', '2001:db8::200-2001:db8::250'])],
  hostAddresses: new Set(['198.51.100.11']),
  gateways: new Set(['198.51.100.1']),
};

t.test('the addresses in status of the Services this speaker handles, shared ones together', async (t) => {
  const out = wantedAddresses({
    ...base,
    services: [
      view('a', { ingressIps: ['198.51.100.200'] }),
      view('b', { ingressIps: ['198.51.100.200'] }),
      view('v6', { ingressIps: ['2001:db8:0::200'] }),
      view('other-class', { ingressIps: ['198.51.100.201'], loadBalancerClass: 'example.com/other' }),
      view('cluster-ip', { ingressIps: ['198.51.100.202'], type: 'ClusterIP' }),
      view('garbage', { ingressIps: ['not-an-ip'] }),
    ],
    readyNodes: new Map([['default/a', new Set(['node2'])]]),
  });
  t.same([...out.users.keys()], ['198.51.100.200', '2001:db8::200'], 'canonical, only handled Services, garbage left out');
  t.same(out.users.get('198.51.100.200')?.map((u) => u.key), ['default/a', 'default/b'], 'both Services on the shared address');
  t.same([...(out.users.get('198.51.100.200')?.[0]?.readyNodes ?? [])], ['node2'], 'ready nodes of the Service');
  t.same([...(out.users.get('198.51.100.200')?.[1]?.readyNodes ?? [])], [], 'none known: empty');
  t.equal(out.refused.size, 0);
});

t.test('refusals: outside the pools, a host address, a gateway; refused addresses stay wanted', async (t) => {
  const rows: [string, string][] = [
    ['10.0.0.5', 'outside-pools'],
    ['198.51.100.11', 'node-address'],
    ['198.51.100.1', 'gateway'],
  ];
  for (const [addr, why] of rows) {
    const pools = why === 'outside-pools' ? base.pools : [pool('all', ['198.51.100.0/24'])];
    const out = wantedAddresses({ ...base, pools, services: [view('s', { ingressIps: [addr] })] });
    t.equal(out.refused.get(addr), why, `${addr}: ${why}`);
    t.ok(out.users.has(addr), `${addr} is still tracked (so it is withdrawn, not forgotten)`);
  }
});
