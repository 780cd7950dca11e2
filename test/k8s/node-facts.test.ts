import t from 'tap';
import { nodeAddresses, nodeFactsOf } from '../../src/k8s/node-facts.js';

t.test('nodeFactsOf: name, labels, InternalIPs, and the Ready condition when the Node states one', async (t) => {
  const rows: [string, Parameters<typeof nodeFactsOf>[0], unknown][] = [
    ['bare', { metadata: { name: 'n1' } }, { name: 'n1', labels: {}, internalIps: [] }],
    [
      'addresses and labels',
      { metadata: { name: 'n1', labels: { a: 'b' } }, status: { addresses: [{ type: 'InternalIP', address: '198.51.100.11' }, { type: 'Hostname', address: 'n1' }] } },
      { name: 'n1', labels: { a: 'b' }, internalIps: ['198.51.100.11'] },
    ],
    ['Ready', { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { name: 'n1', labels: {}, internalIps: [], ready: true }],
    ['NotReady', { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } }, { name: 'n1', labels: {}, internalIps: [], ready: false }],
    ['Unknown (the kubelet stopped posting)', { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }, { name: 'n1', labels: {}, internalIps: [], ready: false }],
    ['other conditions only', { metadata: { name: 'n1' }, status: { conditions: [{ type: 'MemoryPressure', status: 'False' }] } }, { name: 'n1', labels: {}, internalIps: [] }],
  ];
  for (const [name, node, want] of rows) t.same(nodeFactsOf(node), want, name);
});

t.test('nodeAddresses: every address of every Node, canonical', async (t) => {
  t.same(nodeAddresses([{ status: { addresses: [{ type: 'InternalIP', address: '2001:DB8::1' }, { type: 'ExternalIP', address: '192.0.2.9' }] } }]), ['2001:db8::1', '192.0.2.9']);
});
