import t from 'tap';
import { renderNodePortTable, renderNodePortTableRemoval } from '../../src/net/nft-ruleset.js';

t.test('renders one atomic replacement of the barelb table', async (t) => {
  const text = renderNodePortTable([
    { vip: '198.51.100.201', protocol: 'udp', port: 53, nodeIp: '198.51.100.11', nodePort: 31053 },
    { vip: '198.51.100.200', protocol: 'tcp', port: 80, nodeIp: '198.51.100.11', nodePort: 30080 },
    { vip: '2001:db8::1', protocol: 'tcp', port: 80, nodeIp: '198.51.100.11', nodePort: 30081 },
  ]);
  const lines = text.split('\n');
  t.same(lines.slice(0, 3), ['table ip barelb', 'delete table ip barelb', 'table ip barelb {'], 'declare, delete, recreate in one script');
  t.match(text, /type filter hook prerouting priority -300;/, 'rewrite before conntrack (-200)');
  t.match(text, /type filter hook postrouting priority 300;/, 'reverse after kube-proxy (100)');
  const pre = lines.filter((l) => l.includes('dport set'));
  t.same(pre, [
    '    ip daddr 198.51.100.200 tcp dport 80 counter meta mark set 0x1b ip daddr set 198.51.100.11 tcp dport set 30080',
    '    ip daddr 198.51.100.201 udp dport 53 counter meta mark set 0x1b ip daddr set 198.51.100.11 udp dport set 31053',
  ], 'sorted, IPv4 only');
  t.ok(lines.includes('    ct mark 0x1b ip saddr 198.51.100.11 tcp sport 30080 ip saddr set 198.51.100.200 tcp sport set 80'), 'reply rewrite');
  t.notMatch(text, /2001:db8/, 'IPv6 VIPs are not forwarded by the ip table');
});

t.test('an empty table and the removal script', async (t) => {
  t.notMatch(renderNodePortTable([]), /daddr/);
  t.equal(renderNodePortTableRemoval(), 'table ip barelb\ndelete table ip barelb\n');
});
