import os from 'node:os';
import { parseArgs } from 'node:util';
import { CONFIG_FORMAT_HELP, parseConfigFormat } from './config-command.js';
import { CLUSTER_OPTIONS, LEASE_NAMESPACE_HELP, LEASE_NAMESPACE_OPTION, LOG_FLAGS_HELP, LOG_OPTIONS, clusterFlagsHelp, configNamespaceOf, loggerFrom } from './common-flags.js';
import { shutdownSignal } from './signals.js';
import { InvalidFlagError, checkListenAddress, parseDuration } from './duration.js';

export const SPEAKER_HELP = `Usage: barelb speaker [flags]

Announces LoadBalancer IPs from this node. The speakers hear each other on the
LAN: each sends an authenticated heartbeat on every interface it announces on,
and for each IP every speaker computes the same holder among the live, eligible
nodes (rendezvous hash; a live holder is never preempted). The holder answers
ARP (IPv4) or NDP (IPv6) for the IP and sends gratuitous ARP (unsolicited
Neighbor Advertisements) when it takes over. Never allocates: it
reads IPs from Service status, and announces only addresses inside the
configured pools. Needs CAP_NET_RAW (and CAP_NET_ADMIN with --forward nodeport).

Flags:
  --node NAME            this node's name (default: $NODE_NAME, then the hostname)
${clusterFlagsHelp('the heartbeat key Secret', 'announce', CONFIG_FORMAT_HELP)}
${LEASE_NAMESPACE_HELP}
  --interface NAME       answer ARP and NDP only on this interface (repeatable; default: the
                         config's announce.interfaces, else the interface whose subnet holds the IP)
  --forward MODE         kube-proxy: kube-proxy's rules carry the traffic (default);
                         nodeport: barelb forwards VIP:port to this node's NodePort itself
                         (nftables table "inet barelb"; a node without an InternalIP of a
                         VIP's family does not announce it)
  --forward-mark BITS    nodeport: the packet and connection mark bit(s) barelb sets and
                         matches, leaving every other bit alone (default: 0x2000; pick
                         another if a component on the node uses that one)
  --heartbeat-interval D how often a heartbeat goes out on each interface (default: 100ms)
  --failure-timeout D    a peer not heard for this long is dead and its IPs move
                         (default: 400ms; at least 3 heartbeat intervals)
  --lease-renew-interval D
                         how often this node's speaker Lease is renewed when nothing
                         changes (default: 10s)
  --settle-time D        after starting, take free IPs only once the speakers of every
                         eligible Node are heard, or this long has passed, so a fresh
                         install divides the existing IPs (default: 30s; 0s turns it off)
  --metrics-addr H:P     serve /metrics, /healthz, /readyz here (default: 0.0.0.0:7473; "" turns it off)
${LOG_FLAGS_HELP}
  -h, --help             show this help

Durations are written like 4s, 500ms or 1m. A holder that dies is replaced
within about failure-timeout; one stopped with SIGTERM says so in its last
heartbeats and is replaced at once. API writes do not grow with the number of
IPs: one Lease per node, renewed every lease-renew-interval and rewritten (at
most once a second) when what the node announces changes.`;

export async function runSpeaker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      node: { type: 'string' },
      ...CLUSTER_OPTIONS,
      ...LEASE_NAMESPACE_OPTION,
      ...LOG_OPTIONS,
      interface: { type: 'string', multiple: true, default: [] },
      forward: { type: 'string', default: 'kube-proxy' },
      'forward-mark': { type: 'string', default: '0x2000' },
      'heartbeat-interval': { type: 'string', default: '100ms' },
      'failure-timeout': { type: 'string', default: '400ms' },
      'lease-renew-interval': { type: 'string', default: '10s' },
      'settle-time': { type: 'string', default: '30s' },
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
  const forwardMark = Number(values['forward-mark']);
  if (!Number.isInteger(forwardMark) || forwardMark < 1 || forwardMark > 0xffffffff) {
    throw new InvalidFlagError('forward-mark', values['forward-mark'], 'a non-zero 32-bit mark, e.g. 0x2000');
  }
  const heartbeat = {
    intervalMs: parseDuration('heartbeat-interval', values['heartbeat-interval']),
    failureTimeoutMs: parseDuration('failure-timeout', values['failure-timeout']),
  };
  if (heartbeat.intervalMs < 10) throw new InvalidFlagError('heartbeat-interval', values['heartbeat-interval'], 'at least 10ms');
  if (heartbeat.failureTimeoutMs < 3 * heartbeat.intervalMs) {
    throw new InvalidFlagError('failure-timeout', values['failure-timeout'], `at least 3 times --heartbeat-interval (${values['heartbeat-interval']}), so one lost heartbeat is not a death`);
  }
  const leaseRenewIntervalMs = parseDuration('lease-renew-interval', values['lease-renew-interval']);
  if (leaseRenewIntervalMs < 1000) throw new InvalidFlagError('lease-renew-interval', values['lease-renew-interval'], 'at least 1s (Leases count whole seconds)');
  const settleMs = parseDuration('settle-time', values['settle-time']);
  if (values['metrics-addr']) checkListenAddress('metrics-addr', values['metrics-addr']);
  const node = values.node ?? process.env['NODE_NAME'] ?? os.hostname();
  const log = loggerFrom(values).child({ component: 'speaker', node });
  // Loaded once the flags are good: --help and flag errors answer without the Kubernetes client.
  const [{ loadKubeConfig }, { startHttpServer }, { SpeakerMetrics }, { Speaker }] = await Promise.all([
    import('../k8s/kubeconfig.js'),
    import('../observability/http-server.js'),
    import('../observability/metrics.js'),
    import('../speaker/speaker.js'),
  ]);
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const metrics = new SpeakerMetrics();
  const speaker = new Speaker({
    kubeConfig,
    node,
    namespace: values.namespace,
    configNamespace: configNamespaceOf(values),
    leaseNamespace: values['lease-namespace'],
    configMap: values['config-map'],
    configFormat,
    lbClass: values['lb-class'],
    interfaces: values.interface,
    forward: values.forward,
    forwardMark,
    heartbeat,
    leaseRenewIntervalMs,
    settleMs,
    log,
    metrics,
  });
  const server = values['metrics-addr']
    ? await startHttpServer(values['metrics-addr'], metrics.registry, { healthy: () => true, ready: () => speaker.isReady }, log)
    : undefined;
  const stopped = shutdownSignal(log);
  log.info({ namespace: values.namespace, configNamespace: configNamespaceOf(values), configMap: values['config-map'], configFormat, forward: values.forward, heartbeat, leaseRenewIntervalMs, cluster: kubeConfig.getCurrentCluster()?.server }, 'barelb speaker starting');
  await speaker.run(stopped);
  server?.close();
  return 0;
}
