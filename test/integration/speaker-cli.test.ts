import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CLI, apply, eventually, kubeconfigPath, namespaces, uniqueName } from './harness.js';
import { childEnv } from '../../testkit/support.js';
import { loadConfig } from '../../src/config/config-loader.js';
import { configInForceObject } from '../../src/k8s/config-in-force.js';

// `barelb speaker` as a user meets it: help, flag errors, and a missing capability.
function cli(args: string[], prefix: string[] = []): Promise<{ code: number; out: string }> {
  const [cmd, ...rest] = prefix.length ? prefix : [process.execPath];
  const argv = prefix.length ? [...rest, process.execPath, CLI, ...args] : [CLI, ...args];
  return new Promise((resolve) => {
    execFile(cmd as string, argv, { timeout: 20_000, env: childEnv() }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

t.test('help lists every flag', async (t) => {
  const { code, out } = await cli(['speaker', '--help']);
  t.equal(code, 0);
  for (const flag of ['--node', '--kubeconfig', '--namespace', '--config-namespace', '--lease-namespace', '--config-map', '--lb-class', '--interface', '--forward', '--forward-mark', '--heartbeat-interval', '--failure-timeout', '--lease-renew-interval', '--settle-time', '--metrics-addr', '--log-level', '--log-format', '--config-format']) {
    t.match(out, flag, `documents ${flag}`);
  }
  t.match(out, /CAP_NET_RAW/, 'says which capabilities it needs');
});

t.test('flag errors exit 2 with a clear message', async (t) => {
  const rows: [string[], RegExp][] = [
    [['--forward', 'iptables'], /--forward "iptables": expected kube-proxy or nodeport/],
    [['--heartbeat-interval', '100ms', '--failure-timeout', '250ms'], /--failure-timeout "250ms": expected at least 3 times --heartbeat-interval \(100ms\)/],
    [['--heartbeat-interval', '5ms'], /--heartbeat-interval "5ms": expected at least 10ms/],
    [['--heartbeat-interval', 'often'], /--heartbeat-interval "often": expected a duration/],
    [['--lease-renew-interval', '500ms'], /--lease-renew-interval "500ms": expected at least 1s/],
    [['--settle-time', 'a while'], /--settle-time "a while": expected a duration/],
    [['--metrics-addr', 'localhost'], /--metrics-addr "localhost": expected HOST:PORT/],
    [['--metrics-addr', ':99999'], /--metrics-addr ":99999": expected HOST:PORT/],
    [['--config-format', 'calico'], /--config-format "calico"/],
    [['--forward-mark', '0'], /--forward-mark "0": expected a non-zero 32-bit mark/],
    [['--forward-mark', 'red'], /--forward-mark "red": expected a non-zero 32-bit mark/],
  ];
  for (const [args, message] of rows) {
    const { code, out } = await cli(['speaker', ...args]);
    t.equal(code, 2, args.join(' '));
    t.match(out, message);
    t.notMatch(out, /\n\s+at /, 'no stack trace');
  }
});

t.test('without CAP_NET_RAW it says so and exits', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-speaker-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  // Never contacted: the capability check comes first. Port 1 on loopback in any case.
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n');
  const { code, out } = await cli(['speaker', '--node', 'n1', '--kubeconfig', kubeconfig, '--metrics-addr', ''], ['setpriv', '--bounding-set=-net_raw', '--inh-caps=-net_raw']);
  t.equal(code, 2);
  t.match(out, /CAP_NET_RAW is required/);
});

t.test('SIGTERM while the API server is unreachable: exits at once with 0', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-speaker-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n');
  const child = spawn(process.execPath, [CLI, 'speaker', '--node', 'n1', '--kubeconfig', kubeconfig, '--metrics-addr', ''], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  await eventually('the retry message', 20_000, async () => (/cannot reach the API server; retrying/.test(out) ? true : undefined));
  t.pass('says it cannot reach the API server and retries');
  const start = Date.now();
  child.kill('SIGTERM');
  const [code] = (await exited) as [number];
  t.equal(code, 0, 'exit code 0');
  t.ok(Date.now() - start < 3000, `exited ${Date.now() - start} ms after SIGTERM`);
});

t.test('--config-format metallb --config-namespace: the speaker reads a MetalLB ConfigMap as it is, where it is', async (t) => {
  const ns = uniqueName('speaker-metallb');
  const own = uniqueName('speaker-own');
  await namespaces(t, ns, own);
  await apply(
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: ${ns}}\ndata:\n  config: |\n    address-pools:\n    - name: lan\n      protocol: layer2\n      addresses: [192.0.2.240/29]\n`,
  );
  const child = spawn(
    process.execPath,
    [CLI, 'speaker', '--node', 'n1', '--kubeconfig', kubeconfigPath(), '--namespace', own, '--config-namespace', ns, '--lease-namespace', own, '--config-map', 'config', '--config-format', 'metallb', '--metrics-addr', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await eventually('the speaker to load the config', 30_000, async () => (/"msg":"config loaded"/.test(out) ? true : undefined));
  t.notMatch(out, /invalid config rejected/, 'not read as barelb\'s own format');
  t.match(out, /"configFormat":"metallb"/, 'says which format it reads');
  t.match(out, new RegExp(`"configNamespace":"${ns}"`), 'and where');
});

t.test('a speaker starting on an invalid ConfigMap runs on the config in force the controller recorded', async (t) => {
  const ns = uniqueName('speaker-record');
  await namespaces(t, ns);
  await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: ${ns}}\ndata:\n  config.yaml: |\n    pools:\n    - name: lan\n      addresses: [nope]\n`);
  const loaded = loadConfig({ data: { 'config.yaml': 'pools:\n  - name: recorded\n    addresses: [192.0.2.240/29]\n' } });
  if (!loaded.ok) throw loaded.error;
  const record = configInForceObject(ns, { config: loaded.config, source: `${ns}/barelb-config`, sourceVersion: '7', format: 'barelb', acceptedAt: new Date() });
  await apply(JSON.stringify(record));
  const child = spawn(process.execPath, [CLI, 'speaker', '--node', 'n1', '--kubeconfig', kubeconfigPath(), '--namespace', ns, '--lease-namespace', ns, '--metrics-addr', ''], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await eventually('the speaker to load the recorded config', 30_000, async () => (/"msg":"config loaded from the last recorded good version"/.test(out) ? true : undefined));
  t.match(out, /invalid config rejected; running on the last good config the controller recorded \(version 7 of [^)]*barelb-config/, 'the rejection says what it runs on instead');
  t.match(out, /"pools":\["recorded"\]/, 'the recorded pools are in force');
});
