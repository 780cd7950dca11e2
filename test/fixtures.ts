import type { PoolSpec } from '../src/config/types.js';
import { IpRange } from '../src/net/ip-range.js';
import type { ServiceView } from '../src/k8s/service-view.js';

export function pool(name: string, ranges: string[], extra: Partial<PoolSpec> = {}): PoolSpec {
  return { name, ranges: ranges.map((r) => IpRange.parse(r)), autoAssign: true, avoidBuggyIPs: false, namespaces: [], serviceSelector: undefined, ...extra };
}

export function view(name: string, extra: Partial<ServiceView> = {}): ServiceView {
  const namespace = extra.namespace ?? 'default';
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid: `uid-${name}`,
    resourceVersion: '1',
    createdMs: 0,
    labels: {},
    annotations: {},
    type: 'LoadBalancer',
    loadBalancerClass: undefined,
    loadBalancerIP: undefined,
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    externalTrafficPolicy: 'Cluster',
    ports: [{ protocol: 'TCP', port: 80 }],
    ingressIps: [],
    ...extra,
  };
}
