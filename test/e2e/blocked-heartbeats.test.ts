import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import type { StatusJson } from '../../src/status/status-json.js';
import {
  deleteNamespace,
  CLI, apply, arpingMacs, eventually, fetchFromClient, ingressIp, kubectl, lab, metricOfLabel, serviceYaml, settledHolder, startLab,
} from '../../testkit/lab.js';

// A switch that drops heartbeats (issue 16, item 2): EtherType 0x88B5 dropped on the lab bridge, as some
// managed switches, Wi-Fi bridges and firewall setups do. Every speaker then hears nobody, while every
// speaker's Lease is fresh in the API server and says its node hears nobody either: the speakers fall
// back on the Leases to decide, and each VIP is answered by one MAC. Before, every node answered every VIP.
const run = promisify(execFile);
const NS = 'e2e-blocked-heartbeats';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';
const SERVICES = Array.from({ length: 12 }, (_, i) => `svc-${i}`);
const TABLE = 'barelb_e2e_block';

async function blockHeartbeats(): Promise<void> {
  const rules = `table bridge ${TABLE} {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ether type 0x88b5 counter drop\n  }\n}\n`;
  const child = execFile('ip', ['netns', 'exec', lab.switchNs, 'nft', '-f', '-']);
  const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft exited with ${code}`)))));
  child.stdin?.end(rules);
  await done;
}
async function unblockHeartbeats(): Promise<void> {
  await run('ip', ['netns', 'exec', lab.switchNs, 'nft', 'delete', 'table', 'bridge', TABLE]).catch(() => undefined);
}
async function droppedOnBridge(): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'exec', lab.switchNs, 'nft', 'list', 'table', 'bridge', TABLE]);
  return Number(/counter packets (\d+)/.exec(stdout)?.[1] ?? 0);
}

/** Every VIP answered by exactly one MAC, from the client: the VIPs that are not, with their MACs. */
async function notSingle(ips: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const ip of ips) {
    const macs = await arpingMacs(ip, 2);
    if (macs.length !== 1) bad.push(`${ip}: ${macs.length} MACs`);
  }
  return bad;
}

t.before(async () => {
  // The speakers read each other's Leases with exactly the permissions manifests/speaker-rbac.yaml grants.
  await startLab(t, { namespace: NS, pool: POOL });
});

t.teardown(async () => {
  await unblockHeartbeats();
  await deleteNamespace(NS);
});

t.test('heartbeats dropped by the switch: each VIP still has one answerer, decided through the speaker Leases', async (t) => {
  for (const name of SERVICES) await apply(serviceYaml({ name, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ips: string[] = [];
  for (const name of SERVICES) ips.push(await ingressIp(NS, name));
  for (const ip of ips) await settledHolder(ip);
  t.same(await notSingle(ips), [], 'one MAC per VIP while heartbeats pass');

  await blockHeartbeats();
  t.teardown(unblockHeartbeats);
  const bad = await eventually('one MAC per VIP with heartbeats blocked', 30_000, async () => {
    const b = await notSingle(ips);
    return b.length === 0 ? b : undefined;
  });
  t.same(bad, [], 'one MAC per VIP with heartbeats blocked');
  t.ok((await droppedOnBridge()) > 0, 'the bridge did drop heartbeats');
  for (const n of lab.nodes) {
    t.equal(await metricOfLabel(n, 'barelb_heartbeat_fallback', 'interface="eth0",mode="deaf"'), 1, `${n} says eth0 is deaf`);
  }
  const events = await kubectl(['get', 'events', '-n', 'default', '--field-selector', 'reason=HeartbeatsUnheard', '-o', 'jsonpath={.items[*].involvedObject.name}']);
  for (const n of lab.nodes) t.match(events, new RegExp(`\\b${n}\\b`), `a Warning Event HeartbeatsUnheard on Node ${n}`);
  const status = await eventually('barelb status to name every deaf node', 15_000, async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '--kubeconfig', lab.kubeconfig, '-o', 'json']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '{}' }));
    const problems = ((JSON.parse(stdout) as Partial<StatusJson>).problems ?? []).filter((p) => p.kind === 'heartbeats-unheard');
    return lab.nodes.every((n) => problems.some((p) => p.message.includes(`node ${n} hears no heartbeats on eth0`))) ? problems : undefined;
  });
  t.equal(status.length, lab.nodes.length, 'barelb status: a heartbeats-unheard problem per node, naming eth0');
  const answer = await eventually(`a response through ${ips[0]}`, 10_000, () => fetchFromClient(`http://${ips[0]}/`));
  t.match(answer.name, /^backend-node\d$/, 'and the VIPs serve traffic');
  // Stays settled: a second look a few seconds later finds the same.
  await new Promise((r) => setTimeout(r, 3000));
  t.same(await notSingle(ips), [], 'still one MAC per VIP a few seconds on');

  await unblockHeartbeats();
  const healed = await eventually('one MAC per VIP once heartbeats pass again', 30_000, async () => {
    for (const n of lab.nodes) if ((await metricOfLabel(n, 'barelb_heartbeat_fallback', 'mode="deaf"')) !== 0) return undefined;
    const b = await notSingle(ips);
    return b.length === 0 ? b : undefined;
  });
  t.same(healed, [], 'the LAN decides again, one MAC per VIP');
});
