/**
 * `barelb config convert` as a user runs it: the built CLI in a child process,
 * input from a file or stdin, the manifest on stdout, warnings on stderr.
 * Needs no cluster. Builds dist/ first when it is missing or older than the
 * sources it runs.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import t from 'tap';
import { parseConfig } from '../../src/config/parse.js';
import { childEnv } from '../../testkit/support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const METALLB = path.join(ROOT, 'examples/migration/metallb-config.yaml');
const METALLB_CRDS = path.join(ROOT, 'examples/migration/metallb-crds.yaml');
const KUBEVIP = path.join(ROOT, 'examples/migration/kubevip-config.yaml');

/** Newest source this command runs, against the compiled CLI. */
function distIsStale(): boolean {
  if (!existsSync(CLI)) return true;
  const built = statSync(CLI).mtimeMs;
  const dirs = ['src/cli', 'src/config', 'src/config/convert', 'src/ipam', 'src/net'].map((d) => path.join(ROOT, d));
  const newest = Math.max(...dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => statSync(path.join(d, f)).mtimeMs)));
  return newest > built;
}

t.before(async () => {
  if (!distIsStale()) return;
  // A build with type errors elsewhere still emits; what counts is a fresh CLI.
  await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT, timeout: 300_000 }).catch(() => undefined);
  if (distIsStale()) throw new Error(`${CLI} is missing or older than src/: run npm run build`);
});
t.setTimeout(360_000);

function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace: string };
  data: Record<string, string>;
}

/** The printed manifest, and its config.yaml read by barelb's own parser. */
function printed(stdout: string): { manifest: Manifest; pools: unknown[] } {
  const manifest = yaml.load(stdout) as Manifest;
  const config = parseConfig(manifest.data['config.yaml'] as string);
  return { manifest, pools: config.pools.map((p) => [p.name, p.ranges.map((r) => r.text), p.autoAssign, p.avoidBuggyIPs, p.namespaces]) };
}

t.test('help', async (t) => {
  const r = await cli(['config', 'convert', '--help']);
  t.equal(r.code, 0);
  for (const flag of ['--from', '-f, --file', '--namespace', '--name']) t.match(r.stdout, flag, `documents ${flag}`);
  t.match(r.stdout, /^Usage: barelb config convert --from metallb\|kube-vip/);
  const top = await cli(['--help']);
  t.match(top.stdout, /^\s+config\s+convert MetalLB's pools \(objects or ConfigMap\) or kube-vip's/m, 'barelb --help lists the config command');
  const bare = await cli(['config']);
  t.equal(bare.code, 2, 'barelb config alone exits 2');
  t.match(bare.stdout, /convert\s+turn MetalLB's pools \(objects or ConfigMap\) or kube-vip's ConfigMap/);
  const unknown = await cli(['config', 'frob']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown config subcommand "frob"/);
});

t.test('the MetalLB example from a file', async (t) => {
  const r = await cli(['config', 'convert', '--from', 'metallb', '-f', METALLB]);
  t.equal(r.code, 0, r.stderr);
  const { manifest, pools } = printed(r.stdout);
  t.match(manifest, { kind: 'ConfigMap', metadata: { name: 'barelb-config', namespace: 'barelb-system' } });
  t.same(pools, [
    ['default', ['198.51.100.200-198.51.100.220', '198.51.100.64/28'], true, false, []],
    ['reserved-public', ['203.0.113.0/24'], false, true, []],
  ]);
  t.match(r.stdout, /^# Converted from the metallb ConfigMap metallb-system\/config/);
  t.match(r.stderr, /^barelb: warning: address-pools\[1\]\.name: pool "Reserved_Public" is named "reserved-public"/m);
});

t.test("MetalLB's objects (0.13+): IPAddressPool and L2Advertisement, as kept in git", async (t) => {
  const r = await cli(['config', 'convert', '--from', 'metallb', '-f', METALLB_CRDS]);
  t.equal(r.code, 0, r.stderr);
  const { pools } = printed(r.stdout);
  t.same(pools, [
    ['team-a', ['198.51.100.96/28'], false, true, ['team-a']],
    ['lan', ['198.51.100.200-198.51.100.250'], true, false, []],
  ]);
  t.match(r.stdout, /^# Converted from the MetalLB objects from .*metallb-crds\.yaml/);
  t.match(r.stdout, /announce:\n\s+nodeSelector:/);
  t.equal(r.stderr, '', 'nothing lost: no warning');
  const bgp = await cli(['config', 'convert', '--from', 'metallb'], 'apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: router, namespace: metallb-system}\nspec: {}\n');
  t.equal(bgp.code, 2);
  t.match(bgp.stderr, /BGPPeer metallb-system\/router: BGP is not supported/);
});

t.test('the kube-vip example from stdin, to a ConfigMap of another name', async (t) => {
  const input = (await import('node:fs/promises')).readFile(KUBEVIP, 'utf8');
  const r = await cli(['config', 'convert', '--from', 'kube-vip', '--namespace', 'lb', '--name', 'pools'], await input);
  t.equal(r.code, 0, r.stderr);
  const { manifest, pools } = printed(r.stdout);
  t.match(manifest.metadata, { name: 'pools', namespace: 'lb' });
  t.same(pools, [
    ['cidr-production', ['198.51.100.65-198.51.100.78'], true, true, ['production']],
    ['range-development', ['198.51.100.230-198.51.100.245'], true, true, ['development']],
    ['range-global', ['198.51.100.200-198.51.100.220'], true, true, []],
  ]);
  t.match(r.stderr, /barelb: warning: allow-share-production: .*barelb\.io\/allow-shared-ip/);
  t.match(r.stderr, /barelb: warning: cidr-production, range-development: .*goes on to "range-global"/);
  const dash = await cli(['config', 'convert', '--from', 'kube-vip', '-f', '-'], await input);
  t.equal(dash.stdout, r.stdout.replace('name: pools\n  namespace: lb', 'name: barelb-config\n  namespace: barelb-system'), '-f - reads stdin too');
});

t.test('a List, several documents, or JSON', async (t) => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubevip', namespace: 'kube-system' }, data: { 'cidr-global': '198.51.100.0/28' } };
  const inputs: [string, string][] = [
    ['List', yaml.dump({ apiVersion: 'v1', kind: 'List', items: [cm] })],
    ['documents', `${yaml.dump({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } })}---\n${yaml.dump(cm)}`],
    ['JSON', JSON.stringify(cm)],
  ];
  for (const [name, input] of inputs) {
    const r = await cli(['config', 'convert', '--from', 'kube-vip'], input);
    t.equal(r.code, 0, `${name}: ${r.stderr}`);
    t.same(printed(r.stdout).pools, [['cidr-global', ['198.51.100.0/28'], true, true, []]], name);
  }
});

t.test('conversion errors exit 2, list every problem, print nothing on stdout', async (t) => {
  const config = 'address-pools:\n- name: edge\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n- name: lan\n  protocol: layer2\n  addresses: [nope]\n';
  const r = await cli(['config', 'convert', '--from', 'metallb'], yaml.dump({ kind: 'ConfigMap', metadata: { name: 'config' }, data: { config } }));
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^barelb: cannot convert the metallb config from stdin:\n/);
  t.match(r.stderr, /address-pools\[0\]\.protocol \(pool "edge"\): bgp is not supported/);
  t.match(r.stderr, /address-pools\[1\]\.addresses\[0\] \(pool "lan"\): "nope" is not an address range/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('input and flag errors exit 2 with a clear message', async (t) => {
  const twoCms = `${yaml.dump({ kind: 'ConfigMap', metadata: { name: 'a' } })}---\n${yaml.dump({ kind: 'ConfigMap', metadata: { name: 'b' } })}`;
  const rows: [args: string[], stdin: string, message: RegExp][] = [
    [['--from', 'metallb'], twoCms, /stdin: expected one ConfigMap, found 2: a, b/],
    [['--from', 'metallb'], 'kind: Service\n', /expected a ConfigMap manifest.*found Service/],
    [['--from', 'metallb'], 'kind: ConfigMap\ndata: {config.yaml: "pools: []"}\n', /data\.config: is missing: MetalLB's ConfigMap holds its YAML under the key "config" \(found: config\.yaml\)/],
    [['--from', 'metallb', '-f', '/nonexistent/cm.yaml'], '', /\/nonexistent\/cm\.yaml: cannot read it: ENOENT/],
    [[], '', /--from "": expected metallb or kube-vip/],
    [['--from', 'cilium'], '', /--from "cilium": expected metallb or kube-vip/],
    [['--from', 'metallb', '--bogus'], '', /Unknown option '--bogus'/],
  ];
  for (const [args, stdin, message] of rows) {
    const r = await cli(['config', 'convert', ...args], stdin);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  }
});

t.test('controller and speaker: --config-format is documented and checked', async (t) => {
  for (const command of ['controller', 'speaker']) {
    const help = await cli([command, '--help']);
    t.match(help.stdout, /^\s+--config-format F\s+how the pool config is kept \(default: barelb, barelb's ConfigMap\)/m, `${command} documents --config-format`);
    t.match(help.stdout, /--config-namespace kube-system --config-map kubevip/, `${command} says where kube-vip's ConfigMap usually is`);
    t.match(help.stdout, /metallb-crds: MetalLB's IPAddressPool and L2Advertisement objects/, `${command} documents reading MetalLB's objects`);
    const bad = await cli([command, '--config-format', 'cilium']);
    t.equal(bad.code, 2, `${command} --config-format cilium exits 2`);
    t.match(bad.stderr, /--config-format "cilium": expected barelb, metallb, kube-vip, metallb-crds/);
    t.notMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  }
});
