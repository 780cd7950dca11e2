import { parseArgs } from 'node:util';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { BarelbError } from '../errors.js';
import { describeApiError, statusCodeOf } from '../k8s/api-error.js';
import { CONFIG_IN_FORCE_NAME } from '../k8s/config-in-force.js';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { readMetallbObjectsView } from '../k8s/metallb-objects.js';
import { toServiceView } from '../k8s/service-view.js';
import { statusJson } from '../status/status-json.js';
import { buildStatusReport, type StatusScope } from '../status/status-report.js';
import { toEventView, toLeaseView, type StatusSnapshot } from '../status/status-snapshot.js';
import { renderStatusTable } from '../status/status-table.js';
import { CLUSTER_OPTIONS, LEASE_NAMESPACE_HELP, LEASE_NAMESPACE_OPTION, clusterFlagsHelp, configNamespaceOf } from './common-flags.js';
import { parseConfigFormat } from './config-command.js';
import { InvalidFlagError } from './duration.js';

export const STATUS_HELP = `Usage: barelb status [flags]
       kubectl barelb status [flags]   (with bin/kubectl-barelb on PATH)

Shows what barelb is doing, read once from the cluster: per pool its size,
used and free addresses; per LoadBalancer Service its IP, pool and the node
announcing it (the node whose live speaker Lease, barelb-speaker-<node>, lists
the IP in barelb.io/announces); and problems: pending Services with the reason
the controller gave, an invalid or missing config, IPs outside every pool, IPs
shown by Services that may not share them, IPs no live speaker announces (with
what is known of why), IPs two nodes announce, nodes announcing that no other
speaker hears on the LAN, and IPs announced that no Service shows.

Flags:
${clusterFlagsHelp("the controller's Events", 'report', `  --config-format F      how the pool config is kept: barelb (default), metallb,
                         kube-vip (ConfigMaps) or metallb-crds (MetalLB's IPAddressPool and
                         L2Advertisement objects in --config-namespace); give what the
                         controller runs with`)}
${LEASE_NAMESPACE_HELP}
  -o, --output FORMAT    table (default) or json
  --fail-on-problems     exit 1 when there is any problem (for scripts and probes)
  -h, --help             show this help

Runs with your own credentials, which need list on services and events in all
namespaces, on configmaps in --config-namespace (else --namespace), and on leases in
--lease-namespace; with --config-format metallb-crds, on ipaddresspools and
l2advertisements (metallb.io) in --config-namespace instead of configmaps.

Exit status: 0 the report was printed (problems or not, unless --fail-on-problems);
1 problems found with --fail-on-problems; 2 bad flags or the cluster could not be read.
A speaker Lease counts as live when renewed within its duration (3 × the speaker's
--lease-renew-interval, 30s by default) by this machine's clock.`;

/** A list call failed: names what could not be read and, when refused, what status needs. */
export class StatusReadError extends BarelbError {
  readonly code = 'BARELB_STATUS_READ';
  constructor(what: string, cause: unknown) {
    const refused = statusCodeOf(cause) === 401 || statusCodeOf(cause) === 403;
    const hint = refused ? ' (barelb status needs list on services and events in all namespaces, on configmaps (with --config-format metallb-crds: ipaddresspools and l2advertisements) in --config-namespace (else --namespace), and on leases in --lease-namespace)' : '';
    super(`cannot list ${what}: ${describeApiError(cause)}${hint}`, { cause });
  }
}

export async function runStatus(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...CLUSTER_OPTIONS,
      ...LEASE_NAMESPACE_OPTION,
      output: { type: 'string', short: 'o', default: 'table' },
      'fail-on-problems': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${STATUS_HELP}\n`);
    return 0;
  }
  const output = values.output;
  if (output !== 'table' && output !== 'json') throw new InvalidFlagError('output', output, 'table or json');
  const configFormat = parseConfigFormat(values['config-format']);
  const scope: StatusScope = { namespace: configNamespaceOf(values), recordNamespace: values.namespace, configMap: values['config-map'], configFormat, lbClass: values['lb-class'], leaseNamespace: values['lease-namespace'] };
  const snapshot = await readSnapshot(loadKubeConfig(values.kubeconfig), scope);
  const report = buildStatusReport(snapshot, scope);
  process.stdout.write(output === 'json' ? `${JSON.stringify(statusJson(report), null, 2)}\n` : `${renderStatusTable(report)}\n`);
  return values['fail-on-problems'] && report.problems.length > 0 ? 1 : 0;
}

/** One list call per kind (list is all the RBAC status needs); nothing is watched. */
async function readSnapshot(kc: KubeConfig, scope: StatusScope): Promise<StatusSnapshot> {
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const read = <T>(what: string, call: Promise<T>): Promise<T> =>
    call.catch((err: unknown) => {
      throw new StatusReadError(what, err);
    });
  const { namespace, configMap, leaseNamespace, recordNamespace = namespace } = scope;
  // --config-format metallb-crds: MetalLB's objects instead of the ConfigMap.
  const metallb = scope.configFormat === 'metallb-crds';
  const configObjects = metallb ? await read(`ipaddresspools and l2advertisements (metallb.io) in ${namespace}`, readMetallbObjectsView(kc.makeApiClient(CustomObjectsApi), namespace)) : undefined;
  const [configMaps, services, leases, serviceEvents, configEvents, record] = await Promise.all([
    metallb ? { items: [] } : read(`configmaps in ${namespace}`, core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${configMap}` })),
    read('services in all namespaces', core.listServiceForAllNamespaces()),
    read(`leases in ${leaseNamespace}`, coordination.listNamespacedLease({ namespace: leaseNamespace })),
    read('events in all namespaces', core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.kind=Service,type=Warning' })),
    read(`events in ${namespace}`, core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=ConfigMap,involvedObject.name=${configMap}` })),
    // Optional: without it (or the right to read it) the report just cannot name the config in force.
    core.listNamespacedConfigMap({ namespace: recordNamespace, fieldSelector: `metadata.name=${CONFIG_IN_FORCE_NAME}` }).then((l) => l.items[0], () => undefined),
  ]);
  return {
    configMap: configMaps.items[0],
    configInForce: record,
    configObjects,
    services: services.items.map(toServiceView),
    leases: leases.items.map(toLeaseView),
    events: [...serviceEvents.items, ...configEvents.items].map(toEventView),
    nowMs: Date.now(),
  };
}
