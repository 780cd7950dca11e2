import t from 'tap';
import { renderNodePortTable, renderNodePortTableRemoval } from '../../src/net/nft-ruleset.js';

t.test('renders one atomic replacement of the barelb table', async (t) => {
  const text = renderNodePortTable([
    { vip: '198.51.100.201', protocol: 'udp', port: 53, nodeIp: '198.51.100.11', nodePort: 31053 },
    { vip: '198.51.100.200', protocol: 'tcp', port: 80, nodeIp: '198.51.100.11', nodePort: 30080 },
    { vip: '2001:db8::1', protocol: 'tcp', port: 80, nodeIp: '2001:db8::11', nodePort: 30081 },
  ]);
  const lines = text.split('\n');
  t.same(
    lines.slice(0, 5),
    ['table ip barelb', 'delete table ip barelb', 'table inet barelb', 'delete table inet barelb', 'table inet barelb {'],
    'declare, delete (also the IPv4-only table of older speakers), recreate in one script',
  );
  t.match(text, /type filter hook prerouting priority -300;/, 'rewrite before conntrack (-200)');
  t.match(text, /type filter hook postrouting priority 300;/, 'reverse after kube-proxy (100)');
  const pre = lines.filter((l) => l.includes('dport set'));
  t.same(pre, [
    '    ip daddr 198.51.100.200 tcp dport 80 counter meta mark set meta mark or 0x2000 ip daddr set 198.51.100.11 tcp dport set 30080',
    '    ip daddr 198.51.100.201 udp dport 53 counter meta mark set meta mark or 0x2000 ip daddr set 198.51.100.11 udp dport set 31053',
    '    ip6 daddr 2001:db8::1 tcp dport 80 counter meta mark set meta mark or 0x2000 ip6 daddr set 2001:db8::11 tcp dport set 30081',
  ], 'sorted, each in its family; the mark bit is ORed in, other bits kept');
  t.ok(lines.includes('    meta mark and 0x2000 == 0x2000 ct mark set ct mark or 0x2000'), 'the connection mark: matched and set under the bit');
  t.ok(lines.includes('    ct mark and 0x2000 == 0x2000 ip saddr 198.51.100.11 tcp sport 30080 ip saddr set 198.51.100.200 tcp sport set 80'), 'reply rewrite');
  t.ok(lines.includes('    ct mark and 0x2000 == 0x2000 ip6 saddr 2001:db8::11 tcp sport 30081 ip6 saddr set 2001:db8::1 tcp sport set 80'), 'IPv6 reply rewrite');
});

t.test('another mark bit, and a forward whose node address is of the other family is left out', async (t) => {
  const text = renderNodePortTable(
    [
      { vip: '198.51.100.200', protocol: 'tcp', port: 80, nodeIp: '2001:db8::11', nodePort: 30080 },
      { vip: '198.51.100.201', protocol: 'tcp', port: 80, nodeIp: '198.51.100.11', nodePort: 30081 },
    ],
    0x100000,
  );
  t.match(text, /meta mark set meta mark or 0x100000 /);
  t.notMatch(text, /2001:db8|198\.51\.100\.200/, 'no rule that nft would refuse, or that sends v4 to a v6 address');
  t.match(text, /ip daddr 198\.51\.100\.201 /);
});

t.test('an empty table and the removal script', async (t) => {
  t.notMatch(renderNodePortTable([]), /daddr/);
  t.equal(renderNodePortTableRemoval(), 'table ip barelb\ndelete table ip barelb\ntable inet barelb\ndelete table inet barelb\n');
});
