import { DEFAULT_LB_CLASS, SPEAKER_LEASE_NAMESPACE } from '../names.js';
import { createRootLogger, logFormatOf, type Logger } from '../observability/logger.js';

/** Flags every command that reads the cluster shares, with one meaning everywhere. */
export const CLUSTER_OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', default: 'barelb-system' },
  'config-namespace': { type: 'string' },
  'config-map': { type: 'string', default: 'barelb-config' },
  'config-format': { type: 'string', default: 'barelb' },
  'lb-class': { type: 'string', default: DEFAULT_LB_CLASS },
} as const;

/** The speakers' Lease namespace, for the speaker (writes) and `barelb status` (reads). */
export const LEASE_NAMESPACE_OPTION = { 'lease-namespace': { type: 'string', default: SPEAKER_LEASE_NAMESPACE } } as const;
export const LEASE_NAMESPACE_HELP = `  --lease-namespace NS   namespace of the speakers' Leases, barelb-speaker-<node>
                         (default: ${SPEAKER_LEASE_NAMESPACE})`;

/** Help lines for CLUSTER_OPTIONS; `namespaceHolds` says what else lives in --namespace for this command. */
export function clusterFlagsHelp(namespaceHolds: string, lbClassVerb: string, configFormatHelp: string): string {
  return `  --kubeconfig PATH      kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config,
                         then the in-cluster ServiceAccount)
  --namespace NS         namespace of ${namespaceHolds}, and of the ConfigMap unless
                         --config-namespace says another (default: barelb-system)
  --config-namespace NS  namespace of the ConfigMap, or of MetalLB's objects with
                         --config-format metallb-crds (default: --namespace), e.g.
                         metallb-system to read MetalLB's config where it is
  --config-map NAME      ConfigMap holding the pools (default: barelb-config)
${configFormatHelp}
  --lb-class CLASS       ${lbClassVerb} Services whose spec.loadBalancerClass is unset or CLASS
                         (default: ${DEFAULT_LB_CLASS})`;
}

/** Where the ConfigMap (or MetalLB's objects) is read: --config-namespace, else --namespace. */
export function configNamespaceOf(values: { namespace: string; 'config-namespace'?: string | undefined }): string {
  return values['config-namespace'] ?? values.namespace;
}

export const LOG_OPTIONS = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

export const LOG_FLAGS_HELP = `  --log-level LEVEL      trace, debug, info, warn, error (default: $BARELB_LOG_LEVEL or info)
  --log-format FORMAT    json (default) or text, one line per record for people
                         (default: $BARELB_LOG_FORMAT or json)`;

export function loggerFrom(values: { 'log-level'?: string | undefined; 'log-format'?: string | undefined }): Logger {
  return createRootLogger({ level: values['log-level'], format: logFormatOf(values['log-format']) });
}
