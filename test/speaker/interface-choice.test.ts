import type { NetworkInterfaceInfo } from 'node:os';
import fc from 'fast-check';
import t from 'tap';
import { IpAddress } from '../../src/net/ip.js';
import { chooseInterface, interfaceSegments } from '../../src/speaker/interface-choice.js';

const addr = (family: 'IPv4' | 'IPv6', address: string, cidr: string, mac: string, internal = false): NetworkInterfaceInfo =>
  ({ address, netmask: '', family, mac, internal, cidr, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const v4 = (address: string, cidr: string, mac: string, internal = false) => addr('IPv4', address, cidr, mac, internal);
const v6 = (address: string, cidr: string, mac: string, internal = false) => addr('IPv6', address, cidr, mac, internal);

const ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [v4('127.0.0.1', '127.0.0.1/8', '00:00:00:00:00:00', true), v6('::1', '::1/128', '00:00:00:00:00:00', true)],
  eth0: [
    v4('198.51.100.11', '198.51.100.11/24', '02:00:00:00:00:11'),
    v6('2001:db8:5133:100::11', '2001:db8:5133:100::11/64', '02:00:00:00:00:11'),
    v6('fe80::11', 'fe80::11/64', '02:00:00:00:00:11'),
  ],
  eth1: [
    v4('203.0.113.5', '203.0.113.5/24', '02:00:00:00:00:21'),
    v4('203.0.113.130', '203.0.113.130/25', '02:00:00:00:00:21'),
    v6('2001:db8:7::5', '2001:db8:7::5/48', '02:00:00:00:00:21'),
  ],
  vlan9: [v4('203.0.113.140', '203.0.113.140/28', '02:00:00:00:00:31'), v6('2001:db8:7:9::1', '2001:db8:7:9::1/64', '02:00:00:00:00:31')],
  // Only a link-local address: no LAN this node could announce on is known.
  ll0: [v6('fe80::41', 'fe80::41/64', '02:00:00:00:00:41')],
};

t.test('the interface whose subnet of the IP family holds the IP, longest prefix first', async (t) => {
  const rows: [string, string[], string | undefined][] = [
    ['198.51.100.200', [], 'eth0'],
    ['203.0.113.10', [], 'eth1'],
    ['203.0.113.141', [], 'vlan9'],
    ['203.0.113.141', ['eth1'], 'eth1'],
    ['198.51.100.200', ['eth1'], undefined],
    ['192.0.2.50', [], undefined],
    ['127.0.0.2', [], undefined],
    ['2001:db8:5133:100::200', [], 'eth0'],
    ['2001:db8:5133:100::200', ['eth1'], undefined],
    ['2001:db8:7:1::200', [], 'eth1'],
    ['2001:db8:7:9::200', [], 'vlan9'],
    ['2001:db8:7:9::200', ['eth1', 'eth0'], 'eth1'],
    ['2001:db8::1', [], undefined],
    // Link-local addresses never make an interface fit, not even for a link-local VIP.
    ['fe80::200', [], undefined],
    ['fe80::200', ['ll0'], undefined],
    ['::1', [], undefined],
    // An IPv4-mapped IPv6 VIP is IPv6: no IPv4 subnet makes it fit.
    ['::ffff:198.51.100.200', [], undefined],
    ['not-an-ip', [], undefined],
  ];
  for (const [ip, allowed, want] of rows) t.equal(chooseInterface(ip, ifaces, allowed)?.name, want, `${ip} allowed=${allowed.join(',') || 'all'}`);
  t.equal(chooseInterface('198.51.100.200', ifaces, [])?.mac, '02:00:00:00:00:11');
  t.equal(chooseInterface('2001:db8:7:9::9', ifaces, [])?.mac, '02:00:00:00:00:31');
});

t.test('an IPv6 VIP fits exactly the interfaces whose prefix covers it', async (t) => {
  // Model: the first `prefix` bits are equal.
  const v6Arb = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IpAddress.fromValue('IPv6', v));
  fc.assert(
    fc.property(v6Arb, v6Arb, fc.integer({ min: 1, max: 128 }), (own, vip, prefix) => {
      if ((own.value >> 118n) === 0x3fan) return; // link-local: covered above
      const set = { eth0: [v6(own.toString(), `${own.toString()}/${prefix}`, '02:00:00:00:00:01')] };
      const same = own.value >> BigInt(128 - prefix) === vip.value >> BigInt(128 - prefix);
      return (chooseInterface(vip.toString(), set, [])?.name === 'eth0') === same;
    }),
    { numRuns: 2000 },
  );
  t.pass('checked 2000 random addresses and prefixes against the model');
});

t.test('interfaceSegments: the subnets an interface is on, as network/prefix', async (t) => {
  const mac = '02:00:00:00:00:01';
  t.same(
    interfaceSegments([
      addr('IPv4', '198.51.100.11', '198.51.100.11/24', mac),
      addr('IPv4', '203.0.113.2', '203.0.113.2/24', mac),
      addr('IPv4', '198.51.100.12', '198.51.100.12/24', mac),
      addr('IPv6', '2001:db8:0:1::11', '2001:db8:0:1::11/64', mac),
      addr('IPv6', 'fe80::1', 'fe80::1/64', mac),
      addr('IPv4', '127.0.0.1', '127.0.0.1/8', mac, true),
    ]),
    ['198.51.100.0/24', '2001:db8:0:1::/64', '203.0.113.0/24'],
    'one entry per subnet, sorted; link-local and loopback left out',
  );
  t.same(interfaceSegments([]), [], 'no addresses, no segments');
});
