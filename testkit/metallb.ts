/**
 * MetalLB's two layer-2 CRDs as a migrating user has them installed, minimal: namespaced,
 * metallb.io/v1beta1 served and stored, any spec (barelb checks the content itself).
 */
export const METALLB_CRDS = ['ipaddresspools.metallb.io', 'l2advertisements.metallb.io'] as const;

function crd(kind: string, plural: string): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.metallb.io` },
    spec: {
      group: 'metallb.io',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1beta1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

/** Installs both CRDs with `kubectl` and waits until the API server serves them. */
export async function installMetallbCrds(kubectl: (args: string[], input?: string) => Promise<string>): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: [crd('IPAddressPool', 'ipaddresspools'), crd('L2Advertisement', 'l2advertisements')] };
  await kubectl(['apply', '-f', '-'], JSON.stringify(list));
  await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', ...METALLB_CRDS.map((c) => `crd/${c}`)]);
}

export async function deleteMetallbCrds(kubectl: (args: string[], input?: string) => Promise<string>): Promise<void> {
  await kubectl(['delete', 'crd', ...METALLB_CRDS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
}
