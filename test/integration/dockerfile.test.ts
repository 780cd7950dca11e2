import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import t from 'tap';
import { CLI, ROOT } from './harness.js';

// The Dockerfile read statically, in seconds: every COPY has its source (in the build
// context, or in this checkout after `npm run build` for the runtime stage), the
// ENTRYPOINT is package.json's bin, and the manifests run that image with commands the
// CLI has, as the user the image declares. The image itself is built with podman and run
// in the lab by test/image/ (`npm run test:image`, scripts/image.sh).

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: from as string, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages[stages.length - 1]?.instructions.push({ op, args });
    }
  }
  return stages;
}

/** .dockerignore, for top-level entries ("*", "name", "!name"): the last matching pattern decides. */
function ignoredByDockerignore(file: string): boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const top = file.replace(/^\.\//, '').split('/')[0] as string;
  let ignored = false;
  for (const p of patterns) {
    const name = p.replace(/^!/, '').replace(/\/$/, '');
    if (name === '*' || name === top) ignored = !p.startsWith('!');
  }
  return ignored;
}

const stages = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const build = stages[0] as Stage;
const runtime = stages[stages.length - 1] as Stage;
const only = (s: Stage, op: string): string[] => s.instructions.filter((i) => i.op === op).map((i) => i.args);
const workdir = (s: Stage): string => only(s, 'WORKDIR').at(-1) ?? '/';

function copies(s: Stage): { from: string | undefined; sources: string[]; dest: string }[] {
  return only(s, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const from = words[0]?.startsWith('--from=') ? (words.shift() as string).slice('--from='.length) : undefined;
    return { from, sources: words.slice(0, -1), dest: words.at(-1) as string };
  });
}

t.test('two stages: a build stage that compiles the addon and prunes, a slim runtime on the same Node', async (t) => {
  t.equal(stages.length, 2);
  t.match(build.from, /^node:20-bookworm$/, 'build stage on node:20-bookworm');
  t.match(runtime.from, /^node:20-bookworm-slim$/, 'runtime stage on node:20-bookworm-slim (same Node major and glibc as the addon was built for)');
  const runs = only(build, 'RUN').join('\n');
  t.match(runs, /apt-get install .*python3.*make.*g\+\+/, 'node-gyp toolchain');
  t.match(runs, /npm ci/, 'npm ci (its install script builds the addon with node-gyp)');
  t.match(runs, /npm run build/, 'tsc');
  t.match(runs, /npm prune --omit=dev/, 'dev dependencies pruned');
  const runtimeRuns = only(runtime, 'RUN');
  t.equal(runtimeRuns.length, 1, 'the runtime stage runs one step: the rest it copies from the build stage');
  t.match(runtimeRuns[0], /apt-get install -y --no-install-recommends nftables\b/, 'it installs nft (--forward nodeport runs it), nothing recommended besides');
  t.match(runtimeRuns[0], /rm -rf \/var\/lib\/apt\/lists\/\*$/, 'and leaves no apt lists in the layer');
  const user = runtime.instructions.findIndex((i) => i.op === 'USER');
  t.ok(runtime.instructions.findIndex((i) => i.op === 'RUN') < user, 'before USER drops root');
});

t.test('every build-context COPY source exists and is not excluded by .dockerignore', async (t) => {
  const sources = copies(build).flatMap((c) => (c.from ? [] : c.sources));
  t.ok(sources.length >= 4, `${sources.length} sources`);
  for (const s of sources) {
    t.ok(existsSync(path.join(ROOT, s)), `${s} exists`);
    t.notOk(ignoredByDockerignore(s), `${s} is in the build context`);
  }
  for (const local of ['node_modules', 'dist', 'build', '.lab', '.git', 'test']) {
    t.ok(ignoredByDockerignore(local), `${local}/ of this checkout stays out of the context`);
  }
});

t.test('every runtime COPY --from=build source exists after a build', async (t) => {
  const from = copies(runtime).filter((c) => c.from);
  t.same(from.map((c) => c.from), from.map(() => build.name), 'all from the build stage');
  const base = workdir(build);
  for (const c of from) {
    for (const s of c.sources) {
      t.ok(s.startsWith(`${base}/`), `${s} is under the build stage's WORKDIR ${base}`);
      t.ok(existsSync(path.join(ROOT, s.slice(base.length + 1))), `${s} exists after npm ci && npm run build`);
    }
  }
  t.ok(from.some((c) => c.sources.some((s) => s.endsWith('.node'))), 'the addon is copied');
});

t.test('ENTRYPOINT is package.json bin, inside what the runtime stage copies', async (t) => {
  const entry = JSON.parse(only(runtime, 'ENTRYPOINT').at(-1) ?? '[]') as string[];
  const app = workdir(runtime);
  t.same(entry, ['node', `${app}/${pkg.bin['barelb']}`], `ENTRYPOINT runs bin.barelb (${pkg.bin['barelb']})`);
  const script = (entry[1] ?? '').slice(app.length + 1);
  const copiedDirs = copies(runtime).map((c) => c.dest.replace(`${app}/`, '').replace(/^\.\//, '')).filter((d) => d.endsWith('/'));
  t.ok(copiedDirs.some((d) => script.startsWith(d)), `${script} lies in a copied directory (${copiedDirs.join(', ')})`);
  t.ok(statSync(path.join(ROOT, script)).isFile(), `${script} is built`);
  const { stdout } = await run(process.execPath, [path.join(ROOT, script), '--help']);
  t.match(stdout, /^Usage: barelb /, 'and runs');
});

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  securityContext?: { runAsUser?: number };
}
interface Workload {
  kind: string;
  spec: { template: { spec: { containers: Container[]; securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean } } } };
}

t.test('the manifests run this image with CLI commands, as the users it expects', async (t) => {
  const user = only(runtime, 'USER').at(-1) ?? '';
  t.match(user, /^[1-9]\d*:[1-9]\d*$/, `the image's default user ${user} is numeric and not root (runAsNonRoot can verify it)`);
  const [uid, gid] = user.split(':').map(Number);
  const workloads = ['controller.yaml', 'speaker.yaml'].map((f) => yaml.load(readFileSync(path.join(ROOT, 'manifests', f), 'utf8')) as Workload);
  for (const w of workloads) {
    for (const c of w.spec.template.spec.containers) {
      t.equal(c.image, `${pkg.name}:${pkg.version}`, `${w.kind} ${c.name}: image ${c.image} is the one the README builds`);
      t.equal(c.command, undefined, `${w.kind} ${c.name}: no command, so the ENTRYPOINT runs`);
      const sub = c.args?.[0] ?? '';
      const { stdout } = await run(process.execPath, [CLI, sub, '--help']);
      t.match(stdout, new RegExp(`^Usage: barelb ${sub} `), `${w.kind} ${c.name}: args [${c.args?.join(', ')}] is a barelb command`);
    }
  }
  const [controller, speaker] = workloads as [Workload, Workload];
  const podSc = controller.spec.template.spec.securityContext;
  t.same([podSc?.runAsUser, podSc?.runAsGroup, podSc?.runAsNonRoot], [uid, gid, true], 'the controller runs as the image user');
  t.equal(speaker.spec.template.spec.containers[0]?.securityContext?.runAsUser, 0, 'the speaker overrides it with root (capabilities need it)');
});
