import type { NetworkInterfaceInfo } from 'node:os';
import t from 'tap';
import { chooseInterface } from '../../src/speaker/interface-choice.js';

const v4 = (address: string, cidr: string, mac: string, internal = false): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv4', mac, internal, cidr }) as NetworkInterfaceInfo;

const ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [v4('127.0.0.1', '127.0.0.1/8', '00:00:00:00:00:00', true)],
  eth0: [v4('198.51.100.11', '198.51.100.11/24', '02:00:00:00:00:11')],
  eth1: [v4('203.0.113.5', '203.0.113.5/24', '02:00:00:00:00:21'), v4('203.0.113.130', '203.0.113.130/25', '02:00:00:00:00:21')],
  vlan9: [v4('203.0.113.140', '203.0.113.140/28', '02:00:00:00:00:31')],
};

t.test('the interface whose subnet holds the IP, longest prefix first', async (t) => {
  const rows: [string, string[], string | undefined][] = [
    ['198.51.100.200', [], 'eth0'],
    ['203.0.113.10', [], 'eth1'],
    ['203.0.113.141', [], 'vlan9'],
    ['203.0.113.141', ['eth1'], 'eth1'],
    ['198.51.100.200', ['eth1'], undefined],
    ['192.0.2.50', [], undefined],
    ['127.0.0.2', [], undefined],
    ['2001:db8::1', [], undefined],
    ['not-an-ip', [], undefined],
  ];
  for (const [ip, allowed, want] of rows) t.equal(chooseInterface(ip, ifaces, allowed)?.name, want, `${ip} allowed=${allowed.join(',') || 'all'}`);
  t.equal(chooseInterface('198.51.100.200', ifaces, [])?.mac, '02:00:00:00:00:11');
});
