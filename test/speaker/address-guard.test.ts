import t from 'tap';
import { describeRefusal, parseRouteGateways, refusalOf, type AddressGuardFacts, type AddressRefusal } from '../../src/speaker/address-guard.js';
import { pool } from '../fixtures.js';

const FACTS: AddressGuardFacts = {
  pools: [pool('lan', ['192.0.2.0/24', '198.51.100.10-198.51.100.20']), pool('v6', ['2001:db8:1::/64'])],
  hostAddresses: new Set(['192.0.2.5', '2001:db8:1::5', '10.0.0.5', '192.0.2.7']),
  gateways: new Set(['192.0.2.1', '2001:db8:1::1', '192.0.2.7']),
};

t.test('refusalOf', async (t) => {
  const rows: [ip: string, want: AddressRefusal | undefined][] = [
    // inside the pools, nobody's address
    ['192.0.2.10', undefined],
    [' 192.0.2.10 ', undefined],
    ['198.51.100.10', undefined],
    ['198.51.100.20', undefined],
    ['2001:db8:1::10', undefined],
    ['2001:DB8:1:0:0:0:0:10', undefined],
    // outside every pool, just outside a range's ends, the other family
    ['192.0.3.10', 'outside-pools'],
    ['198.51.100.9', 'outside-pools'],
    ['198.51.100.21', 'outside-pools'],
    ['2001:db8:2::10', 'outside-pools'],
    ['::ffff:192.0.2.10', 'outside-pools'],
    // a node's own address, in any spelling
    ['192.0.2.5', 'node-address'],
    ['2001:db8:1::5', 'node-address'],
    ['2001:0DB8:0001:0000:0000:0000:0000:0005', 'node-address'],
    // a route's gateway
    ['192.0.2.1', 'gateway'],
    ['2001:db8:1:0::1', 'gateway'],
    // precedence: outside the pools first, then node address, then gateway
    ['10.0.0.5', 'outside-pools'],
    ['192.0.2.7', 'node-address'],
    // not an address at all
    ['', 'outside-pools'],
    ['not-an-ip', 'outside-pools'],
    ['192.0.2', 'outside-pools'],
    ['192.0.2.256', 'outside-pools'],
    ['192.0.2.010', 'outside-pools'],
    ['fe80::1%eth0', 'outside-pools'],
  ];
  for (const [ip, want] of rows) t.equal(refusalOf(ip, FACTS), want, JSON.stringify(ip));

  t.equal(refusalOf('192.0.2.10', { ...FACTS, pools: [] }), 'outside-pools', 'no pools: nothing may be announced');
});

t.test('describeRefusal names each refusal differently', async (t) => {
  const all: AddressRefusal[] = ['outside-pools', 'node-address', 'gateway'];
  const texts = all.map(describeRefusal);
  t.same(texts, ['is inside no configured pool', "is a node's own address", "is a gateway of this node's routes"]);
});

// /proc/net/route as Linux prints it on a little-endian host: each __be32 printed as a host-order %08X, so
// 192.0.2.1 (bytes c0 00 02 01) reads back as 0x010200C0. Lines are padded with spaces to 127 characters.
const pad = (line: string): string => line.padEnd(127, ' ');
const PROC_NET_ROUTE = [
  pad('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT'),
  pad('eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0'), // default via 192.0.2.1
  pad('eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0'), // 192.0.2.0/24 on-link
  pad('eth1\t0000090A\tFE02010A\t0003\t0\t0\t200\t0000FFFF\t0\t0\t0'), // 10.9.0.0/16 via 10.1.2.254
  pad('eth1\t0001A8C0\t0101a8c0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0'), // lower-case hex: via 192.168.1.1
  '',
].join('\n');

// /proc/net/ipv6_route: no header; dest, dest_plen, src, src_plen, next hop, metric, refcnt, use, flags, device.
const PROC_NET_IPV6_ROUTE = [
  '20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
  'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
  '20010db8000200000000000000000000 30 00000000000000000000000000000000 00 20010db80001000000000000000000fe 00000400 00000001 00000000 00000003     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000021122fffe334455 00000400 00000002 00000000 00000003     eth0',
  '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
  '',
].join('\n');

t.test('parseRouteGateways reads realistic /proc files', async (t) => {
  t.same(
    [...parseRouteGateways(PROC_NET_ROUTE, PROC_NET_IPV6_ROUTE)].sort(),
    ['10.1.2.254', '192.0.2.1', '192.168.1.1', '2001:db8:1::fe', 'fe80::211:22ff:fe33:4455'],
  );
  t.same([...parseRouteGateways(PROC_NET_ROUTE, '')].sort(), ['10.1.2.254', '192.0.2.1', '192.168.1.1'], 'IPv4 only');
  t.same([...parseRouteGateways('', PROC_NET_IPV6_ROUTE)].sort(), ['2001:db8:1::fe', 'fe80::211:22ff:fe33:4455'], 'IPv6 only');
  t.same([...parseRouteGateways('', '')], [], 'no routes');
});

t.test('parseRouteGateways: the first IPv4 line is the header, and only that', async (t) => {
  const header = PROC_NET_ROUTE.split('\n')[0] as string;
  t.same([...parseRouteGateways(`${header}\neth0\t00000000\t010200C0\t0003`, '')], ['192.0.2.1']);
  // without a header the first line is taken for one (the kernel always writes it)
  t.same([...parseRouteGateways('eth0\t00000000\t010200C0\t0003', '')], []);
});

t.test('parseRouteGateways skips zero gateways and lines it cannot read', async (t) => {
  const header = PROC_NET_ROUTE.split('\n')[0] as string;
  const v4Rows: [what: string, line: string][] = [
    ['zero gateway (on-link route)', 'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF'],
    ['too short', 'eth0\t00000000\t0200C0\t0003'],
    ['too long', 'eth0\t00000000\t010200C000\t0003'],
    ['not hex', 'eth0\t00000000\t0102ZZC0\t0003'],
    ['a sign', 'eth0\t00000000\t-10200C0\t0003'],
    ['no gateway field', 'eth0\t00000000'],
    ['one word', 'garbage'],
    ['blank', '   '],
  ];
  for (const [what, line] of v4Rows) {
    t.same([...parseRouteGateways(`${header}\n${line}\n`, '')], [], `IPv4: ${what}`);
  }
  const dest = '00000000000000000000000000000000 00 00000000000000000000000000000000 00';
  const v6Rows: [what: string, line: string][] = [
    ['zero next hop', `${dest} 00000000000000000000000000000000 00000400 00000001 00000000 00000003 eth0`],
    ['31 digits', `${dest} 20010db8000100000000000000000fe 00000400 00000001 00000000 00000003 eth0`],
    ['33 digits', `${dest} 20010db80001000000000000000000fe0 00000400 00000001 00000000 00000003 eth0`],
    ['not hex', `${dest} 20010db8000100000000000000000xfe 00000400 00000001 00000000 00000003 eth0`],
    ['colons', `${dest} 2001:db8:1::fe 00000400 00000001 00000000 00000003 eth0`],
    ['truncated', dest],
    ['one word', 'garbage'],
  ];
  for (const [what, line] of v6Rows) {
    t.same([...parseRouteGateways('', `${line}\n`)], [], `IPv6: ${what}`);
  }

  // garbage around good lines does not hide them
  const mixed4 = [header, 'garbage', 'eth0\t00000000\t010200C0\t0003', '\t\t', 'eth1\t0\tFE02010A'].join('\n');
  const mixed6 = ['garbage', v6Rows[0]?.[1], `${dest} 20010db80001000000000000000000fe 00000400 00000001 00000000 00000003 eth0`].join('\n');
  t.same([...parseRouteGateways(mixed4, mixed6)].sort(), ['10.1.2.254', '192.0.2.1', '2001:db8:1::fe']);
});

t.test('parseRouteGateways: the same gateway on several routes is one entry', async (t) => {
  const header = PROC_NET_ROUTE.split('\n')[0] as string;
  const v4 = [header, 'eth0\t00000000\t010200C0\t0003', 'eth0\t0000090A\t010200C0\t0003'].join('\n');
  t.same([...parseRouteGateways(v4, '')], ['192.0.2.1']);
});

t.test('parsed gateways are refused when inside a pool', async (t) => {
  const gateways = parseRouteGateways(PROC_NET_ROUTE, PROC_NET_IPV6_ROUTE);
  const facts: AddressGuardFacts = {
    pools: [pool('lan', ['192.0.2.0/24']), pool('v6', ['2001:db8:1::/64'])],
    hostAddresses: new Set(),
    gateways,
  };
  t.equal(refusalOf('192.0.2.1', facts), 'gateway');
  t.equal(refusalOf('2001:db8:1::fe', facts), 'gateway');
  t.equal(refusalOf('192.0.2.2', facts), undefined);
});
