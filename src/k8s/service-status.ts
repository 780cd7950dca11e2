import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { ANNOTATION } from '../names.js';
import type { ServiceView } from './service-view.js';

/**
 * Writes status.loadBalancer.ingress and the allocated-from-pool annotation in
 * one merge patch of the status subresource. The resourceVersion in the patch
 * makes it compare-and-swap: if the Service changed since `view` was read, the
 * API server answers 409 and nothing is written.
 */
export async function writeServiceStatus(core: CoreV1Api, view: ServiceView, ips: readonly string[], pool: string | null): Promise<void> {
  await core.patchNamespacedServiceStatus(
    {
      name: view.name,
      namespace: view.namespace,
      body: {
        metadata: { resourceVersion: view.resourceVersion, annotations: { [ANNOTATION.allocatedFromPool]: pool } },
        status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}
