import t from 'tap';
import { readyNodesFromEndpoints, readyNodesFromSlices } from '../../src/k8s/ready-nodes.js';

t.test('Endpoints: ready addresses only', async (t) => {
  const m = readyNodesFromEndpoints([
    {
      metadata: { namespace: 'ns', name: 'web' },
      subsets: [
        { addresses: [{ ip: '10.0.0.1', nodeName: 'n1' }, { ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.3', nodeName: 'n3' }] },
        { addresses: [{ ip: '10.0.0.4', nodeName: 'n2' }] },
      ],
    },
    { metadata: { namespace: 'ns', name: 'empty' } },
  ]);
  t.same([...(m.get('ns/web') ?? [])].sort(), ['n1', 'n2']);
  t.same([...(m.get('ns/empty') ?? [])], []);
});

t.test('EndpointSlices: grouped by service, ready unless said otherwise', async (t) => {
  const label = (svc: string) => ({ namespace: 'ns', labels: { 'kubernetes.io/service-name': svc } });
  const m = readyNodesFromSlices([
    { metadata: label('web'), endpoints: [{ nodeName: 'n1', conditions: { ready: true } }, { nodeName: 'n2', conditions: { ready: false } }] },
    { metadata: label('web'), endpoints: [{ nodeName: 'n3', conditions: {} }, { conditions: { ready: true } }] },
    { metadata: { namespace: 'ns', labels: {} }, endpoints: [{ nodeName: 'n9' }] },
  ]);
  t.same([...(m.get('ns/web') ?? [])].sort(), ['n1', 'n3']);
  t.equal(m.size, 1, 'slices without a service label are not attributed');
});
