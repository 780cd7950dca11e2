import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Controller } from '../controller/controller.js';
import { CONFIG_FORMAT_HELP, parseConfigFormat } from './config-command.js';
import { CLUSTER_OPTIONS, LOG_FLAGS_HELP, LOG_OPTIONS, clusterFlagsHelp, configNamespaceOf, loggerFrom } from './common-flags.js';
import { shutdownSignal } from './signals.js';
import { InvalidFlagError, checkListenAddress, parseDuration, parsePositiveInt } from './duration.js';

export const CONTROLLER_HELP = `Usage: barelb controller [flags]

Assigns External IPs from the pools in the barelb ConfigMap to Services of
type LoadBalancer and writes them to status.loadBalancer.ingress.

Flags:
${clusterFlagsHelp('the leader Lease', 'handle', CONFIG_FORMAT_HELP)}
  --metrics-addr H:P     serve /metrics, /healthz, /readyz here (default: 0.0.0.0:7472; "" turns it off)
  --no-leader-elect      act at once without the Lease (only with a single replica)
  --lease-name NAME      leader election Lease (default: barelb-controller)
  --lease-duration D     (default: 15s)
  --renew-deadline D     a leader that cannot renew for this long stops acting (default: 10s)
  --retry-period D       (default: 2s)
  --identity ID          this replica's name in the Lease (default: $POD_NAME, then the hostname)
  --workers N            Services reconciled concurrently (default: 8)
${LOG_FLAGS_HELP}
  -h, --help             show this help

Durations are written like 15s, 500ms or 2m.`;

export async function runController(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...CLUSTER_OPTIONS,
      ...LOG_OPTIONS,
      'metrics-addr': { type: 'string', default: '0.0.0.0:7472' },
      'no-leader-elect': { type: 'boolean', default: false },
      'lease-name': { type: 'string', default: 'barelb-controller' },
      'lease-duration': { type: 'string', default: '15s' },
      'renew-deadline': { type: 'string', default: '10s' },
      'retry-period': { type: 'string', default: '2s' },
      identity: { type: 'string' },
      workers: { type: 'string', default: '8' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${CONTROLLER_HELP}\n`);
    return 0;
  }
  const configFormat = parseConfigFormat(values['config-format']);
  const timers = {
    leaseDurationMs: parseDuration('lease-duration', values['lease-duration']),
    renewDeadlineMs: parseDuration('renew-deadline', values['renew-deadline']),
    retryPeriodMs: parseDuration('retry-period', values['retry-period']),
  };
  if (timers.renewDeadlineMs >= timers.leaseDurationMs) {
    throw new InvalidFlagError('renew-deadline', values['renew-deadline'], `less than --lease-duration (${values['lease-duration']})`);
  }
  const workers = parsePositiveInt('workers', values.workers);
  if (values['metrics-addr']) checkListenAddress('metrics-addr', values['metrics-addr']);
  const identity = values.identity ?? process.env['POD_NAME'] ?? os.hostname();
  const log = loggerFrom(values).child({ component: 'controller', identity });
  // Loaded once the flags are good: --help and flag errors answer without the Kubernetes client.
  const [{ CoordinationV1Api }, { Controller, controllerVoice }, { LeaderElector }, { LeaseClient }, { loadKubeConfig }, { startHttpServer }, { ControllerMetrics }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../controller/controller.js'),
    import('../k8s/leader-elector.js'),
    import('../k8s/lease-client.js'),
    import('../k8s/kubeconfig.js'),
    import('../observability/http-server.js'),
    import('../observability/metrics.js'),
  ]);
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const metrics = new ControllerMetrics();
  const leaderElect = !values['no-leader-elect'];
  const voice = controllerVoice(kubeConfig, identity, log);
  let active: Controller | undefined;
  const runTerm = (signal: AbortSignal): Promise<void> => {
    active = new Controller({
      kubeConfig,
      namespace: values.namespace,
      configNamespace: configNamespaceOf(values),
      configMap: values['config-map'],
      configFormat,
      lbClass: values['lb-class'],
      identity,
      workers,
      log,
      metrics,
      voice,
    });
    return active.run(signal);
  };

  let leading = false;
  // A standby replica is ready (it is doing its job: waiting); a leader once synced.
  const ready = (): boolean => (leaderElect && !leading) || (active?.ready ?? false);
  const server = values['metrics-addr']
    ? await startHttpServer(values['metrics-addr'], metrics.registry, { healthy: () => true, ready }, log)
    : undefined;

  const stopped = shutdownSignal(log);

  log.info(
    { namespace: values.namespace, configNamespace: configNamespaceOf(values), configMap: values['config-map'], configFormat, lbClass: values['lb-class'], leaderElect, cluster: kubeConfig.getCurrentCluster()?.server },
    'barelb controller starting',
  );
  if (!leaderElect) {
    leading = true;
    metrics.isLeader.set(1);
    await runTerm(stopped);
  } else {
    const lease = new LeaseClient(kubeConfig.makeApiClient(CoordinationV1Api), values.namespace, values['lease-name']);
    const elector = new LeaderElector(lease, identity, timers, log.child({ part: 'election' }), (now) => {
      leading = now;
      metrics.isLeader.set(now ? 1 : 0);
    });
    await elector.run(stopped, runTerm);
  }
  server?.close();
  log.info('stopped');
  return 0;
}
