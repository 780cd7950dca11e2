import type { V1Service } from '@kubernetes/client-node';

/** The parts of a Service barelb reads, as plain data: the pure core never sees client types. */
export interface ServiceView {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly createdMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly type: string;
  readonly loadBalancerClass: string | undefined;
  readonly loadBalancerIP: string | undefined;
  readonly ipFamilies: readonly string[];
  readonly ipFamilyPolicy: string | undefined;
  readonly externalTrafficPolicy: string | undefined;
  readonly ports: readonly { readonly protocol: string; readonly port: number }[];
  /** IPs in status.loadBalancer.ingress, as written. */
  readonly ingressIps: readonly string[];
}

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function toServiceView(svc: V1Service): ServiceView {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const namespace = meta.namespace ?? 'default';
  const name = meta.name ?? '';
  // Objects from a list are deserialized (Date), objects from a watch are raw JSON (string).
  const created = meta.creationTimestamp as unknown;
  const createdMs = created instanceof Date ? created.getTime() : typeof created === 'string' ? Date.parse(created) : 0;
  return {
    key: serviceKey(namespace, name),
    namespace,
    name,
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    createdMs: Number.isNaN(createdMs) ? 0 : createdMs,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    type: spec.type ?? 'ClusterIP',
    loadBalancerClass: spec.loadBalancerClass || undefined,
    loadBalancerIP: spec.loadBalancerIP || undefined,
    ipFamilies: spec.ipFamilies ?? [],
    ipFamilyPolicy: spec.ipFamilyPolicy,
    externalTrafficPolicy: spec.externalTrafficPolicy,
    ports: (spec.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port })),
    ingressIps: (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])),
  };
}

/** Whether barelb is responsible for the Service's address (the controller assigns it, speakers announce it). */
export function handles(view: ServiceView, lbClass: string): boolean {
  return view.type === 'LoadBalancer' && (view.loadBalancerClass === undefined || view.loadBalancerClass === lbClass);
}
