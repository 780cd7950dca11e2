import t from 'tap';
import { nodePortRules } from '../../src/speaker/nodeport-sync.js';

t.test('rewrites go to the InternalIP of the VIP\'s family, for ports with a NodePort', async (t) => {
  const ports = new Map([
    ['198.51.100.200', [{ protocol: 'TCP', port: 80, nodePort: 30080 }, { protocol: 'UDP', port: 53, nodePort: 30053 }, { port: 443 }]],
    ['2001:db8::200', [{ port: 80, nodePort: 30081 }]],
  ]);
  const rules = nodePortRules(['198.51.100.200', '2001:db8::200'], ['198.51.100.11', '2001:db8::11'], (vip) => ports.get(vip) ?? []);
  t.same(rules, [
    { vip: '198.51.100.200', protocol: 'tcp', port: 80, nodeIp: '198.51.100.11', nodePort: 30080 },
    { vip: '198.51.100.200', protocol: 'udp', port: 53, nodeIp: '198.51.100.11', nodePort: 30053 },
    { vip: '2001:db8::200', protocol: 'tcp', port: 80, nodeIp: '2001:db8::11', nodePort: 30081 },
  ]);
  t.same(nodePortRules(['2001:db8::200'], ['198.51.100.11'], (vip) => ports.get(vip) ?? []), [], 'no InternalIP of the family: no rule');
});
