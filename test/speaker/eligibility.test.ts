import t from 'tap';
import { DEFAULT_ANNOUNCE } from '../../src/config/types.js';
import { EXCLUDE_LABEL, describeIneligibility, ineligibility, type IpUser } from '../../src/speaker/eligibility.js';

const node = (labels: Record<string, string> = {}) => ({ name: 'node1', labels });
const cluster: IpUser = { key: 'default/web', externalTrafficPolicy: 'Cluster', readyNodes: new Set() };
const local = (nodes: string[]): IpUser => ({ key: 'default/local', externalTrafficPolicy: 'Local', readyNodes: new Set(nodes) });
const onlyLan = { ...DEFAULT_ANNOUNCE, nodeSelector: { matchLabels: { lan: 'yes' }, matchExpressions: [] } };

t.test('who may announce', async (t) => {
  const rows: [string, ReturnType<typeof node>, typeof DEFAULT_ANNOUNCE, IpUser[], string | undefined][] = [
    ['any node for a Cluster Service', node(), DEFAULT_ANNOUNCE, [cluster], undefined],
    ['selector matches', node({ lan: 'yes' }), onlyLan, [cluster], undefined],
    ['selector does not match', node({ lan: 'no' }), onlyLan, [cluster], 'node-selector'],
    ['excluded by label, any value', node({ [EXCLUDE_LABEL]: '' }), DEFAULT_ANNOUNCE, [cluster], 'excluded'],
    ['Local with an endpoint here', node(), DEFAULT_ANNOUNCE, [local(['node1'])], undefined],
    ['Local without an endpoint here', node(), DEFAULT_ANNOUNCE, [local(['node2'])], 'no-local-endpoint'],
    ['shared IP: every Local Service needs one', node(), DEFAULT_ANNOUNCE, [cluster, local(['node1']), local([])], 'no-local-endpoint'],
  ];
  for (const [name, n, announce, users, want] of rows) t.equal(ineligibility(n, announce, users)?.why, want, name);
  t.match(describeIneligibility({ why: 'no-local-endpoint', service: 'ns/s' }), /ns\/s.*Local/);
});

t.test('nodeport mode: a node needs an InternalIP of the VIP\'s family, and only for VIPs of that family', async (t) => {
  const v4only = { name: 'node1', labels: {}, internalIps: ['198.51.100.11'] };
  const v6only = { name: 'node1', labels: {}, internalIps: ['2001:db8::11'] };
  const none = { name: 'node1', labels: {} };
  t.equal(ineligibility(v4only, DEFAULT_ANNOUNCE, [cluster], { nodeAddressFamily: 'IPv4' }), undefined, 'v4 VIP, v4 node address');
  t.same(ineligibility(v6only, DEFAULT_ANNOUNCE, [cluster], { nodeAddressFamily: 'IPv4' }), { why: 'no-node-address', family: 'IPv4' }, 'v4 VIP, only a v6 node address');
  t.same(ineligibility(v4only, DEFAULT_ANNOUNCE, [cluster], { nodeAddressFamily: 'IPv6' }), { why: 'no-node-address', family: 'IPv6' }, 'v6 VIP, only a v4 node address');
  t.same(ineligibility(none, DEFAULT_ANNOUNCE, [cluster], { nodeAddressFamily: 'IPv4' })?.why, 'no-node-address', 'no InternalIP at all');
  t.equal(ineligibility(none, DEFAULT_ANNOUNCE, [cluster]), undefined, 'kube-proxy mode needs none');
  t.match(describeIneligibility({ why: 'no-node-address', family: 'IPv6' }), /IPv6 InternalIP.*nodeport/);
});
