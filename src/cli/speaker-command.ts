import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { startHttpServer } from '../observability/http-server.js';
import { SpeakerMetrics } from '../observability/metrics.js';
import { Speaker } from '../speaker/speaker.js';
import { CONFIG_FORMAT_HELP, parseConfigFormat } from './config-command.js';
import { CLUSTER_OPTIONS, LOG_FLAGS_HELP, LOG_OPTIONS, clusterFlagsHelp, loggerFrom } from './common-flags.js';
import { shutdownSignal } from './signals.js';
import { InvalidFlagError, parseDuration, parsePositiveInt } from './duration.js';

export const SPEAKER_HELP = `Usage: barelb speaker [flags]

Announces LoadBalancer IPs from this node: per IP, a Lease elects one node
among the eligible ones; that node answers ARP for the IP (and sends
gratuitous ARP when it takes over). Never allocates: it reads IPs from
Service status. Needs CAP_NET_RAW (and CAP_NET_ADMIN with --forward nodeport).

Flags:
  --node NAME            this node's name (default: $NODE_NAME, then the hostname)
${clusterFlagsHelp('the per-IP Leases', 'announce', CONFIG_FORMAT_HELP)}
  --interface NAME       answer ARP only on this interface (repeatable; default: the
                         config's announce.interfaces, else the interface whose subnet holds the IP)
  --forward MODE         kube-proxy: kube-proxy's rules carry the traffic (default);
                         nodeport: barelb forwards VIP:port to this node's NodePort itself
  --lease-duration D     how long a per-IP Lease stays valid unrenewed (default: 4s)
  --renew-interval D     how often a holder renews (default: 1s)
  --stagger D            rank n of the candidates waits n times this before taking a free Lease (default: 200ms)
  --lease-writes-in-flight N
                         Lease writes sent at once at most; the rest wait, releases first,
                         then renewals, then acquisitions (default: 16)
  --metrics-addr H:P     serve /metrics, /healthz, /readyz here (default: 0.0.0.0:7473; "" turns it off)
${LOG_FLAGS_HELP}
  -h, --help             show this help

Durations are written like 4s, 500ms or 1m. A holder that dies is replaced
within about lease-duration + renew-interval + stagger.

Every announced IP costs one Lease write per renew-interval, cluster-wide: the
defaults suit a few hundred IPs. For more, set renew-interval >= IPs / (the
Lease writes/s your API server can spare) and lease-duration about 4 times it
(docs/benchmarks.md, "Sizing the speakers' timers").`;

export async function runSpeaker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      node: { type: 'string' },
      ...CLUSTER_OPTIONS,
      ...LOG_OPTIONS,
      interface: { type: 'string', multiple: true, default: [] },
      forward: { type: 'string', default: 'kube-proxy' },
      'lease-duration': { type: 'string', default: '4s' },
      'renew-interval': { type: 'string', default: '1s' },
      stagger: { type: 'string', default: '200ms' },
      'lease-writes-in-flight': { type: 'string', default: '16' },
      'metrics-addr': { type: 'string', default: '0.0.0.0:7473' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${SPEAKER_HELP}\n`);
    return 0;
  }
  const configFormat = parseConfigFormat(values['config-format']);
  if (values.forward !== 'kube-proxy' && values.forward !== 'nodeport') {
    throw new InvalidFlagError('forward', values.forward, 'kube-proxy or nodeport');
  }
  const election = {
    leaseDurationMs: parseDuration('lease-duration', values['lease-duration']),
    renewIntervalMs: parseDuration('renew-interval', values['renew-interval']),
    staggerMs: parseDuration('stagger', values.stagger),
  };
  if (election.renewIntervalMs >= election.leaseDurationMs) {
    throw new InvalidFlagError('renew-interval', values['renew-interval'], `less than --lease-duration (${values['lease-duration']})`);
  }
  if (election.leaseDurationMs < 1000) throw new InvalidFlagError('lease-duration', values['lease-duration'], 'at least 1s (Leases count whole seconds)');
  const node = values.node ?? process.env['NODE_NAME'] ?? os.hostname();
  const log = loggerFrom(values).child({ component: 'speaker', node });
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const metrics = new SpeakerMetrics();
  const speaker = new Speaker({
    kubeConfig,
    node,
    namespace: values.namespace,
    configMap: values['config-map'],
    configFormat,
    lbClass: values['lb-class'],
    interfaces: values.interface,
    forward: values.forward,
    election,
    leaseWritesInFlight: parsePositiveInt('lease-writes-in-flight', values['lease-writes-in-flight']),
    log,
    metrics,
  });
  const server = values['metrics-addr']
    ? await startHttpServer(values['metrics-addr'], metrics.registry, { healthy: () => true, ready: () => speaker.isReady }, log)
    : undefined;
  const stopped = shutdownSignal(log);
  log.info({ namespace: values.namespace, configMap: values['config-map'], configFormat, forward: values.forward, election, cluster: kubeConfig.getCurrentCluster()?.server }, 'barelb speaker starting');
  await speaker.run(stopped);
  server?.close();
  return 0;
}
