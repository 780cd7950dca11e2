import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import t, { type Test } from 'tap';
import { serviceAccountKubeconfig } from '../../testkit/support.js';
import {
  createBarelbNamespaces,
  deleteNamespace,
  ROOT, apply, applyBarelbConfig, arpHolder, eventually, fetchFromClient, inNs, ingressIp, kubectl, lab, serviceYaml, speakerKubeconfig, startBackend, startIn, startTracked,
  type Proc,
} from '../../testkit/lab.js';

// The image the manifests run (barelb:<version>, built by `scripts/image.sh build` from the
// unmodified Dockerfile), run in the lab the way the manifests run it: its filesystem
// (`podman image mount`) as a read-only root, its ENV, WORKDIR and ENTRYPOINT, the user and the
// capabilities of manifests/controller.yaml, manifests/speaker.yaml and examples/nodeport
// (scripts/image.sh run: chroot and setpriv, as container runtimes cannot start containers here).

const run = promisify(execFile);
const IMAGE_SH = path.join(ROOT, 'scripts/image.sh');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
const IMAGE = `barelb:${pkg.version}`;
const NS = 'image-test';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.230-198.51.100.239]\n';

// --- what the manifests say --------------------------------------------------------------
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}
interface Workload {
  spec: { template: { spec: { securityContext?: SecurityContext; containers: { image: string; args?: string[]; securityContext?: SecurityContext }[] } } };
}
const manifest = (f: string): Workload => yaml.load(readFileSync(path.join(ROOT, f), 'utf8')) as Workload;
const controllerPod = manifest('manifests/controller.yaml').spec.template.spec;
const speakerPod = manifest('manifests/speaker.yaml').spec.template.spec;
const controllerC = controllerPod.containers[0]!;
const speakerC = speakerPod.containers[0]!;
// examples/nodeport: JSON patches adding the speaker's --forward flag and NET_ADMIN.
const nodeportPatch = (() => {
  const k = yaml.load(readFileSync(path.join(ROOT, 'examples/nodeport/kustomization.yaml'), 'utf8')) as { patches: { patch: string }[] };
  const ops = k.patches.flatMap((p) => yaml.load(p.patch) as { op: string; path: string; value: string }[]);
  return {
    args: ops.filter((o) => o.path.endsWith('/args/-')).map((o) => o.value),
    caps: ops.filter((o) => o.path.endsWith('/capabilities/add/-')).map((o) => o.value),
  };
})();

const CAP_BITS: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, KILL: 5, SETGID: 6, SETUID: 7, NET_BIND_SERVICE: 10, NET_ADMIN: 12, NET_RAW: 13, SYS_CHROOT: 18, SYS_ADMIN: 21 };
const capMask = (caps: string[]): bigint =>
  caps.reduce((m, c) => {
    const bit = CAP_BITS[c];
    if (bit === undefined) throw new Error(`capability ${c}: add its number to CAP_BITS`);
    return m | (1n << BigInt(bit));
  }, 0n);

// --- the image's filesystem and processes run from it ------------------------------------
let root = '';
let configDir = '';
const procs: Proc[] = [];

interface Run {
  user: string;
  caps: string[];
  env: Record<string, string>;
  args: string[];
  netns?: string;
}

/** `scripts/image.sh run`: the image's ENTRYPOINT with `args`, as a container with these settings (read-only root, no_new_privs, all capabilities but `caps` dropped). */
function runImage(t: Test, label: string, r: Run): Proc {
  const args = [IMAGE_SH, 'run', '--root', root, '--user', r.user, ...r.caps.flatMap((c) => ['--cap-add', c]), '--volume', `${configDir}:/tmp:ro`];
  for (const [k, v] of Object.entries(r.env)) args.push('--env', `${k}=${v}`);
  args.push('--', ...r.args);
  const p = r.netns ? startIn(t, r.netns, 'bash', args, label) : startTracked(t, 'bash', args, label);
  procs.push(p);
  return p;
}

interface Seen {
  uid: string;
  gid: string;
  groups: string;
  capEff: bigint;
  capBnd: bigint;
  noNewPrivs: string;
  rootReadOnly: boolean;
  imageNode: boolean;
}

/** What the kernel says about a process started by runImage, once it is the image's node. */
async function inspect(p: Proc): Promise<Seen> {
  const pid = p.child.pid as number;
  await eventually(`PID ${pid} to be node`, 30_000, async () => {
    if (p.child.exitCode !== null) throw new Error(`it exited (${p.child.exitCode}): ${p.output()}`);
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node' ? true : undefined;
  });
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  // Its root mount, as it sees its mounts: mount point "/" (fields: id parent dev root mountpoint options ...).
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[4] === '/').at(-1);
  const exe = statSync(`/proc/${pid}/exe`);
  const node = statSync(path.join(root, 'usr/local/bin/node'));
  return {
    uid: field('Uid'),
    gid: field('Gid'),
    groups: field('Groups'),
    capEff: BigInt(`0x${field('CapEff')}`),
    capBnd: BigInt(`0x${field('CapBnd')}`),
    noNewPrivs: field('NoNewPrivs'),
    rootReadOnly: (rootMount?.[5] ?? '').split(',').includes('ro'),
    imageNode: exe.ino === node.ino && exe.dev === node.dev,
  };
}

async function stop(p: Proc): Promise<void> {
  const hard = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.kill('SIGTERM');
  clearTimeout(hard);
}

async function speakerReady(node: string, p: Proc): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    // One that exits (e.g. nodeport mode without nft) fails at once, with what it said.
    if (p.child.exitCode !== null) throw new Error(`the speaker on ${node} exited (${p.child.exitCode}): ${p.output().trim().split('\n').slice(-2).join('\n')}`);
    if ((await inNs(lab.nodeNs(node), 'curl', ['-sf', 'http://127.0.0.1:7473/readyz']).catch(() => '')).includes('ok')) return;
    if (Date.now() > deadline) throw new Error(`the speaker on ${node} was not ready within 90 s`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function nftTable(node: string): Promise<string> {
  return inNs(lab.nodeNs(node), 'nft', ['list', 'table', 'inet', 'barelb']).catch(() => '');
}

t.before(async () => {
  root = (await run('bash', [IMAGE_SH, 'mount'])).stdout.trim();
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await applyBarelbConfig(POOL);
  // Each program with exactly the RBAC of its manifest, its kubeconfig brought in read-only at /tmp.
  await kubectl(['apply', '-f', path.join(ROOT, 'manifests/controller-rbac.yaml')]);
  configDir = mkdtempSync(path.join(os.tmpdir(), 'barelb-image-'));
  chmodSync(configDir, 0o755);
  const controllerConfig = await serviceAccountKubeconfig(kubectl, configDir, 'barelb-system', 'barelb-controller');
  renameSync(controllerConfig, path.join(configDir, 'controller.kubeconfig'));
  copyFileSync(await speakerKubeconfig(), path.join(configDir, 'speaker.kubeconfig'));
  // Readable by the controller's user, as a Secret volume's files are (mode 0644).
  for (const f of ['controller.kubeconfig', 'speaker.kubeconfig']) chmodSync(path.join(configDir, f), 0o644);
  for (const n of lab.nodes) startBackend(t, n, 8080, `backend-${n}`);
});

t.teardown(async () => {
  for (const p of procs) await stop(p).catch(() => undefined);
  await deleteNamespace(NS);
  if (root) await run('bash', [IMAGE_SH, 'umount']).catch((err: Error) => console.error(`podman image unmount: ${err.message}`));
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

t.test('the runtime image: what every mode needs, nothing of the build stage', async (t) => {
  t.same(readdirSync(path.join(root, 'app')).sort(), ['build', 'dist', 'node_modules', 'package.json'], '/app holds the program and nothing else');
  t.ok(existsSync(path.join(root, 'app/build/Release/barelb_packet.node')), 'the packet-socket addon');
  t.ok(existsSync(path.join(root, 'app/dist/src/cli/main.js')), 'the compiled CLI');
  t.notOk(existsSync(path.join(root, 'src')), 'no /src (the build stage\'s tree)');
  for (const tool of ['g++', 'gcc', 'cc', 'make', 'python3']) t.notOk(existsSync(path.join(root, 'usr/bin', tool)), `no ${tool}`);
  // package-lock.json marks what only the dev dependencies need (`npm prune --omit=dev` removes those).
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.entries(lock.packages).filter(([p, v]) => p.startsWith('node_modules/') && v.dev).map(([p]) => p);
  t.ok(devOnly.length > 100 && devOnly.includes('node_modules/typescript') && devOnly.includes('node_modules/tap'), `${devOnly.length} dev-only packages in the lockfile`);
  t.same(devOnly.filter((p) => existsSync(path.join(root, 'app', p))), [], 'none of them in the image');
  for (const dep of Object.keys(pkg.dependencies)) t.ok(existsSync(path.join(root, 'app/node_modules', dep, 'package.json')), `dependency ${dep}`);
  const nft = path.join(root, 'usr/sbin/nft');
  t.ok(existsSync(nft) && (statSync(nft).mode & 0o111) !== 0, 'nft, which --forward nodeport runs');

  const config = JSON.parse((await run('podman', ['image', 'inspect', '--format', '{{json .Config}}', IMAGE])).stdout) as { User: string; Entrypoint: string[]; Env: string[] };
  t.equal(config.User, `${controllerPod.securityContext?.runAsUser}:${controllerPod.securityContext?.runAsGroup}`, 'USER is the controller\'s runAsUser:runAsGroup');
  t.same(config.Entrypoint, ['node', '/app/dist/src/cli/main.js'], 'ENTRYPOINT runs the CLI');
  t.ok(config.Env.includes('NODE_ENV=production'), 'NODE_ENV=production');
  const size = Number((await run('podman', ['image', 'inspect', '--format', '{{.Size}}', IMAGE])).stdout);
  t.comment(`${IMAGE}: ${size} bytes (${(size / 2 ** 20).toFixed(0)} MiB)`);

  const { stdout } = await run('bash', [IMAGE_SH, 'run', '--root', root, '--', '--help']);
  t.match(stdout, /^Usage: barelb /, 'the ENTRYPOINT runs as the image\'s user');
});

t.test('the controller from the image, as manifests/controller.yaml runs it, assigns an address', async (t) => {
  const pod = controllerPod.securityContext ?? {};
  const sc = controllerC.securityContext ?? {};
  t.equal(controllerC.image, IMAGE, `the manifest runs ${IMAGE}`);
  t.ok(pod.runAsNonRoot && sc.readOnlyRootFilesystem && sc.allowPrivilegeEscalation === false && sc.capabilities?.drop?.includes('ALL') && !sc.capabilities.add, 'the manifest: non-root, read-only root, no privilege escalation, no capabilities');
  const controller = runImage(t, 'image-controller', {
    user: `${pod.runAsUser}:${pod.runAsGroup}`,
    caps: [],
    env: { POD_NAME: 'barelb-controller-image-test' },
    args: [...(controllerC.args ?? []), '--kubeconfig', '/tmp/controller.kubeconfig'],
  });
  const seen = await inspect(controller);
  t.match(seen.uid, new RegExp(`^${pod.runAsUser}(\\s+${pod.runAsUser}){3}$`), `uid ${pod.runAsUser}`);
  t.match(seen.gid, new RegExp(`^${pod.runAsGroup}(\\s+${pod.runAsGroup}){3}$`), `gid ${pod.runAsGroup}`);
  t.equal(seen.groups, '', 'no supplementary groups');
  t.equal(seen.capEff, 0n, 'no effective capabilities');
  t.equal(seen.capBnd, 0n, 'an empty bounding set (drop: [ALL])');
  t.equal(seen.noNewPrivs, '1', 'no_new_privs (allowPrivilegeEscalation: false)');
  t.ok(seen.rootReadOnly, 'its root is read-only');
  t.ok(seen.imageNode, 'it is the image\'s node binary');

  await apply(serviceYaml({ name: 'web', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ip = await ingressIp(NS, 'web');
  t.match(ip, /^198\.51\.100\.23\d$/, `web got ${ip} from the pool`);
  t.ok(controller.child.exitCode === null, 'still running');
});

/** One speaker per node from the image; each checked, all ready. */
async function startSpeakers(t: Test, extraArgs: string[], caps: string[]): Promise<Map<string, Proc>> {
  const speakers = new Map<string, Proc>();
  for (const n of lab.nodes) {
    speakers.set(
      n,
      runImage(t, `image-speaker-${n}`, {
        netns: lab.nodeNs(n),
        user: `${speakerC.securityContext?.runAsUser}:0`,
        caps,
        env: { NODE_NAME: n },
        args: [...(speakerC.args ?? []), ...extraArgs, '--kubeconfig', '/tmp/speaker.kubeconfig'],
      }),
    );
  }
  const mask = capMask(caps);
  for (const [n, p] of speakers) {
    const seen = await inspect(p);
    t.match(seen.uid, /^0(\s+0){3}$/, `${n}: uid 0 (runAsUser: 0)`);
    t.equal(`0x${seen.capEff.toString(16)}`, `0x${mask.toString(16)}`, `${n}: CapEff is exactly ${caps.join(' + ')}`);
    t.equal(seen.capBnd, mask, `${n}: and so is the bounding set`);
    t.equal(seen.noNewPrivs, '1', `${n}: no_new_privs`);
    t.ok(seen.rootReadOnly, `${n}: read-only root`);
    t.ok(seen.imageNode, `${n}: the image's node binary`);
  }
  for (const [n, p] of speakers) await speakerReady(n, p);
  return speakers;
}

t.test('speakers from the image in kube-proxy mode, as manifests/speaker.yaml runs them: the VIP answers', async (t) => {
  const sc = speakerC.securityContext ?? {};
  t.equal(speakerC.image, IMAGE, `the manifest runs ${IMAGE}`);
  t.ok(sc.runAsUser === 0 && sc.readOnlyRootFilesystem && sc.allowPrivilegeEscalation === false && sc.capabilities?.drop?.includes('ALL'), 'the manifest: root, read-only root, no privilege escalation, capabilities dropped but those added');
  const caps = sc.capabilities?.add ?? [];
  const speakers = await startSpeakers(t, [], caps);
  const ip = await ingressIp(NS, 'web');
  const holder = await eventually(`one node to answer ARP for ${ip}`, 30_000, () => arpHolder(ip));
  t.ok(holder, `${holder} answers ARP for ${ip}`);
  const answer = await eventually(`an HTTP answer through ${ip}`, 30_000, () => fetchFromClient(`http://${ip}/`));
  t.match(answer.name, /^backend-node\d$/, `http://${ip}/ from the client answered by ${answer.name}`);
  t.equal(await nftTable(holder), '', 'no nftables table of barelb\'s in this mode');
  for (const p of speakers.values()) await stop(p);
});

t.test('speakers from the image with --forward nodeport, as examples/nodeport runs them: nft from the image forwards the VIP', async (t) => {
  const caps = [...(speakerC.securityContext?.capabilities?.add ?? []), ...nodeportPatch.caps];
  t.ok(nodeportPatch.args.some((a) => /^--forward[= ]nodeport$/.test(a)), `examples/nodeport adds ${nodeportPatch.args.join(' ')}`);
  const speakers = await startSpeakers(t, nodeportPatch.args, caps);
  const ip = await ingressIp(NS, 'web');
  const holder = await eventually(`one node to answer ARP for ${ip}`, 30_000, () => arpHolder(ip));
  await eventually(`the rewrite for ${ip} on ${holder}`, 15_000, async () => ((await nftTable(holder)).includes(`ip daddr ${ip} `) ? true : undefined));
  const answer = await eventually(`an HTTP answer through ${ip}`, 30_000, () => fetchFromClient(`http://${ip}/`));
  t.match(answer.name, /^backend-node\d$/, `http://${ip}/ from the client answered by ${answer.name}`);
  const line = (await nftTable(holder)).split('\n').find((l) => l.includes(`ip daddr ${ip} `)) ?? '';
  t.ok(Number(/counter packets (\d+)/.exec(line)?.[1] ?? 0) > 0, `the request went through the rewrite the image's nft installed on ${holder}`);
  const holderSpeaker = speakers.get(holder) as Proc;
  t.notMatch(holderSpeaker.output(), /cannot run nft|nft was refused|could not update the nftables table/, 'nft ran and was allowed');
  await stop(holderSpeaker);
  t.equal(await nftTable(holder), '', 'the speaker removed its table on SIGTERM');
  for (const p of speakers.values()) await stop(p);
});
