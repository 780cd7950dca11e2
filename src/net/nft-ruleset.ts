import { IpAddress } from './ip.js';

/** One VIP:port forwarded to this node's NodePort. */
export interface NodePortForward {
  readonly vip: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly port: number;
  readonly nodeIp: string;
  readonly nodePort: number;
}

export const NFT_TABLE = 'barelb';
/**
 * The mark bit of a connection that came in through a VIP. Set with OR and matched under itself as a mask,
 * so other components' bits on the same packet survive: kube-proxy uses 0x4000 and 0x8000, Calico the upper
 * 16 bits, Cilium 0x0F00. `--forward-mark` picks another where this one is taken.
 */
export const FORWARD_MARK = 0x2000;

/**
 * The whole nftables table for `--forward nodeport`, as one `nft -f` script
 * that replaces the previous table atomically. Linux NATs a connection once,
 * so a DNAT here would replace kube-proxy's; instead the destination is
 * rewritten before conntrack (priority -300) so conntrack and kube-proxy only
 * ever see NodeIP:NodePort, the connection is marked after conntrack, and
 * replies are rewritten back to VIP:port after kube-proxy's own NAT. One
 * `inet` table carries both families; a forward whose VIP and node address
 * differ in family is left out (nft would refuse it).
 */
export function renderNodePortTable(forwards: readonly NodePortForward[], markBit: number = FORWARD_MARK): string {
  const rules = [...forwards]
    .map((f) => ({ f, family: IpAddress.tryParse(f.vip)?.family }))
    .filter(({ f, family }) => family !== undefined && IpAddress.tryParse(f.nodeIp)?.family === family)
    .sort((a, b) => compare(a.f, b.f));
  const mark = `0x${markBit.toString(16)}`;
  const pre = rules.map(({ f, family }) => {
    const ip = family === 'IPv4' ? 'ip' : 'ip6';
    return `    ${ip} daddr ${f.vip} ${f.protocol} dport ${f.port} counter meta mark set meta mark or ${mark} ${ip} daddr set ${f.nodeIp} ${f.protocol} dport set ${f.nodePort}`;
  });
  const post = rules.map(({ f, family }) => {
    const ip = family === 'IPv4' ? 'ip' : 'ip6';
    return `    ct mark and ${mark} == ${mark} ${ip} saddr ${f.nodeIp} ${f.protocol} sport ${f.nodePort} ${ip} saddr set ${f.vip} ${f.protocol} sport set ${f.port}`;
  });
  return [
    ...removal(),
    `table inet ${NFT_TABLE} {`,
    '  chain pre {',
    '    type filter hook prerouting priority -300; policy accept;',
    ...pre,
    '  }',
    '  chain pre_ct {',
    '    type filter hook prerouting priority -150; policy accept;',
    `    meta mark and ${mark} == ${mark} ct mark set ct mark or ${mark}`,
    '  }',
    '  chain post {',
    '    type filter hook postrouting priority 300; policy accept;',
    ...post,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Removes the table (and nothing else); succeeds when it is already gone. */
export function renderNodePortTableRemoval(): string {
  return [...removal(), ''].join('\n');
}

/**
 * Declaring first makes the delete succeed when the table does not exist yet. `ip barelb` is the IPv4-only
 * table of barelb 0.1 speakers: an upgraded speaker removes it too.
 */
function removal(): string[] {
  return [`table ip ${NFT_TABLE}`, `delete table ip ${NFT_TABLE}`, `table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`];
}

function compare(a: NodePortForward, b: NodePortForward): number {
  return a.vip.localeCompare(b.vip) || a.protocol.localeCompare(b.protocol) || a.port - b.port;
}
