/**
 * The README's one command (`bash scripts/demo.sh`, which builds the lab and runs
 * this inside its control-plane namespace): the controller and one speaker per node
 * under their own ServiceAccounts, the example pool, a LoadBalancer Service with a
 * backend on every node, and what a user would look at: `kubectl get svc`, the node
 * that announces the address, and a request through it from the client. Then it
 * stays up until SIGINT/SIGTERM (`--once`: exits after that first request), and
 * stops everything it started by PID.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import {
  createBarelbNamespaces,
  LOG_DIR, ROOT, apply, arpingMacs, eventually, inNs, ingressIp, kubectl, lab, announcerOf, macOf, serviceYaml,
  speakerKubeconfig, startBackend, startController, startSpeaker, type Teardown,
} from './lab.js';
import { serviceAccountKubeconfig } from './support.js';
import { speakerLeaseName } from '../src/election/speaker-lease.js';
import { SPEAKER_LEASE_NAMESPACE } from '../src/names.js';

const NAMESPACE = 'barelb-system';
const labDir = path.dirname(lab.cpDir);
const cpNs = process.env['BARELB_LAB_CP_NETNS'] ?? 'the control-plane namespace';
const BACKEND_PORT = 8080;

/** Cleanups run last-first; one registered after they ran (a signal mid-setup) runs at once. */
class Cleanups implements Teardown {
  private readonly fns: (() => unknown)[] = [];
  private done = false;

  teardown(fn: () => unknown): void {
    if (this.done) void Promise.resolve().then(fn).catch(() => undefined);
    else this.fns.push(fn);
  }

  async run(): Promise<void> {
    this.done = true;
    for (const fn of this.fns.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
  }
}

const say = (msg: string): void => {
  process.stderr.write(`[${new Date().toTimeString().slice(0, 8)}] ${msg}\n`);
};
const print = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};

const cleanups = new Cleanups();
let exiting = false;

async function exit(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    say('stopping the controller, the speakers and the backends');
    await cleanups.run();
  }
  process.exit(code);
}

let stopRequested: () => void = () => undefined;
const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (exiting) process.exit(130);
    stopRequested();
    void exit(130);
  });
}

async function waitReady(what: string, probe: () => Promise<string>): Promise<void> {
  await eventually(`${what} to be ready`, 60_000, async () => ((await probe().catch(() => '')).includes('ok') ? true : undefined), 250);
}

/** Runs barelb and a Service in the lab; returns the Service's address. */
async function bringUp(): Promise<string> {
  say(`applying the controller's RBAC (manifests/controller-rbac.yaml) in ${NAMESPACE}`);
  await createBarelbNamespaces();
  await kubectl(['apply', '-n', NAMESPACE, '-f', path.join(ROOT, 'manifests/controller-rbac.yaml')]);
  say(`applying the pool ConfigMap examples/pool.yaml (198.51.100.200-198.51.100.250)`);
  await kubectl(['apply', '-n', NAMESPACE, '-f', path.join(ROOT, 'examples/pool.yaml')]);

  say('starting barelb controller as ServiceAccount barelb-controller');
  const controllerConfig = await serviceAccountKubeconfig(kubectl, labDir, NAMESPACE, 'barelb-controller');
  // The later --kubeconfig wins over the admin one startController passes first.
  startController(cleanups, ['--kubeconfig', controllerConfig]);
  await waitReady('the controller', async () => (await fetch('http://127.0.0.1:7472/readyz')).text());

  say(`starting barelb speaker on ${lab.nodes.join(', ')} as ServiceAccount barelb-speaker (manifests/speaker-rbac.yaml)`);
  const speakerConfig = await speakerKubeconfig();
  cleanups.teardown(() => rmSync(path.dirname(speakerConfig), { recursive: true, force: true }));
  for (const node of lab.nodes) startSpeaker(cleanups, node, [], speakerConfig);
  for (const node of lab.nodes) {
    await waitReady(`the speaker on ${node}`, () => inNs(lab.nodeNs(node), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']));
  }

  say(`starting an HTTP backend on each node (${lab.nodes.map((n) => `${lab.nodeIp(n)}:${BACKEND_PORT}`).join(', ')})`);
  for (const node of lab.nodes) startBackend(cleanups, node, BACKEND_PORT, `backend-${node}`);

  say('creating Service default/demo (type LoadBalancer, port 80 to the backends)');
  await apply(serviceYaml({ name: 'demo', namespace: 'default', port: 80, targetPort: BACKEND_PORT, endpointNodes: lab.nodes }));
  // The same, named web, for the user to apply: a selector-less Service with Endpoints, since the lab runs no Pods.
  writeFileSync(webServiceFile(), yaml.dump(JSON.parse(serviceYaml({ name: 'web', namespace: 'default', port: 80, targetPort: BACKEND_PORT, endpointNodes: lab.nodes }))));
  return ingressIp('default', 'demo');
}

const webServiceFile = (): string => path.join(labDir, 'demo-web-service.yaml');

async function show(ip: string): Promise<void> {
  say(`waiting for a node to announce ${ip}`);
  const holder = await eventually(`a node to announce ${ip} in its speaker Lease and answer ARP for it`, 30_000, async () => {
    const node = await announcerOf(ip);
    if (!node) return undefined;
    const macs = await arpingMacs(ip, 2);
    return macs.length === 1 && macs[0] === (await macOf(node)) ? { node, mac: macs[0] } : undefined;
  });
  say(`sending an HTTP request to ${ip} from the client namespace`);
  const curl = ['curl', '-s', '--max-time', '2', `http://${ip}/`];
  const answer = await eventually(`an HTTP answer through ${ip}`, 30_000, async () => (await inNs(lab.clientNs, curl[0] as string, curl.slice(1), 5_000)).trim() || undefined);

  print();
  print('$ kubectl get service demo');
  print((await kubectl(['get', 'service', 'demo', '-n', 'default'])).trimEnd());
  print();
  print(`EXTERNAL-IP ${ip} is announced by ${holder.node}: its speaker Lease ${SPEAKER_LEASE_NAMESPACE}/${speakerLeaseName(holder.node)} lists it, and it answers ARP for ${ip} with its MAC ${holder.mac}`);
  print();
  print(`$ ip netns exec ${lab.clientNs} ${curl.join(' ')}`);
  print(answer);
  print();
  const events = (await kubectl(['describe', 'service', 'demo', '-n', 'default'])).split('\n');
  print(events.slice(events.findIndex((l) => l.startsWith('Events:'))).join('\n').trimEnd());
  print();
}

function instructions(): void {
  const cp = `ip netns exec ${cpNs}`;
  print(`barelb is running in lab ${process.env['BARELB_LAB_ID'] ?? path.basename(labDir)}. The API server listens only inside network namespace ${cpNs},
so run kubectl there (from any shell on this machine, as root):

  export KUBECONFIG=${lab.kubeconfig}
  ${cp} kubectl get svc -A
  ${cp} kubectl -n ${NAMESPACE} get leases            # who announces which IP

More Services (each gets the next free address and one node announces it):
  ${cp} kubectl apply -f ${webServiceFile()}
      Service web and its Endpoints (the backends above); copy it with other names for more
  ${cp} kubectl create service loadbalancer NAME --tcp=80:${BACKEND_PORT}
      gets an address too, but no backends: the lab runs no kubelet, so no Pods
  ${cp} kubectl -n ${NAMESPACE} edit configmap barelb-config    # the pools

Requests from the client namespace (${lab.clientIp}):
  ip netns exec ${lab.clientNs} curl -s http://IP/

Logs of the controller, the speakers and the backends: ${LOG_DIR}/${process.pid}-*.log
Stop: Ctrl-C here (or kill ${process.pid}); everything started is stopped and the lab removed.`);
}

try {
  const ip = await bringUp();
  await show(ip);
  if (process.argv.includes('--once')) {
    say(`--once: the request through ${ip} succeeded`);
    await exit(0);
  }
  instructions();
  await stopped;
} catch (err) {
  if (!exiting) {
    say(`demo failed: ${(err as Error).message}`);
    say(`logs of what it started: ${LOG_DIR}/${process.pid}-*.log`);
    await exit(1);
  }
}
