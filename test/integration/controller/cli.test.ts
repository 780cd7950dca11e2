/**
 * The `barelb` command line: help texts, usage errors, and a controller that
 * cannot reach its API server. Needs no control plane: the kubeconfig it is
 * given points at a closed loopback port.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CLI, ROOT, eventually, freePort, runCli } from '../harness.js';
import { childEnv } from '../../../testkit/support.js';

const FLAG = /^\s*'?([a-z][a-z-]*)'?:\s*\{\s*type:/gm;

/**
 * Every flag runController's parseArgs accepts, read from the source so a new flag without
 * help fails here; `...NAME` spreads are read from src/cli/common-flags.ts.
 */
async function definedFlags(): Promise<string[]> {
  const src = await readFile(path.join(ROOT, 'src/cli/controller-command.ts'), 'utf8');
  const common = await readFile(path.join(ROOT, 'src/cli/common-flags.ts'), 'utf8');
  const block = /options:\s*\{([\s\S]*?)\n\s*\},\n\s*\}\);/.exec(src);
  if (!block?.[1]) throw new Error('cannot find the parseArgs options block in controller-command.ts');
  const spreads = [...block[1].matchAll(/^\s*\.\.\.([A-Z_]+),/gm)].map((m) => {
    const def = new RegExp(`export const ${m[1]} = \\{([\\s\\S]*?)\\n\\} as const;`).exec(common);
    if (!def?.[1]) throw new Error(`cannot find ${m[1]} in common-flags.ts`);
    return def[1];
  });
  return [block[1], ...spreads].flatMap((b) => [...b.matchAll(FLAG)].map((m) => m[1] as string));
}

t.test('barelb --help lists the commands and exits 0', async (t) => {
  const r = await runCli(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Usage: barelb <command>/);
  t.match(r.stdout, /^\s+controller\s+/m);
  t.match(r.stdout, /^\s+help\s+/m);
  t.equal(r.stderr, '');
});

t.test('barelb with no command prints the help and exits 2', async (t) => {
  const r = await runCli([]);
  t.equal(r.code, 2);
  t.match(r.stdout, /Usage: barelb <command>/);
});

t.test('an unknown command exits 2 naming it', async (t) => {
  for (const name of ['frobnicate', 'toString', '__proto__']) {
    const r = await runCli([name]);
    t.equal(r.code, 2, `${name} exits 2`);
    t.match(r.stderr, new RegExp(`unknown command "${name}"`), `${name} is named`);
  }
});

t.test('barelb help COMMAND shows that command\'s own help', async (t) => {
  for (const [name, usage] of [['status', /^Usage: barelb status \[flags\]/], ['config', /barelb config convert/], ['speaker', /^Usage: barelb speaker \[flags\]/]] as const) {
    const r = await runCli(['help', name]);
    t.equal(r.code, 0, `help ${name} exits 0`);
    t.match(r.stdout, usage, `help ${name}`);
  }
});

t.test('barelb controller --help lists every flag the command accepts', async (t) => {
  const flags = await definedFlags();
  t.ok(flags.length >= 14, `found the flags in the source: ${flags.join(', ')}`);
  const invocations = [['controller', '--help'], ['controller', '-h'], ['help', 'controller']];
  const results = await Promise.all(invocations.map((args) => runCli(args)));
  for (const [i, args] of invocations.entries()) {
    const r = results[i] as Awaited<ReturnType<typeof runCli>>;
    t.equal(r.code, 0, `${args.join(' ')} exits 0`);
    t.match(r.stdout, /^Usage: barelb controller \[flags\]/, `${args.join(' ')} shows the controller help`);
    for (const f of flags) {
      t.match(r.stdout, new RegExp(`^\\s+(-\\w, )?--${f}\\b`, 'm'), `${args.join(' ')} documents --${f}`);
    }
  }
});

t.test('an unknown flag exits 2 with a clear message and no stack', async (t) => {
  const r = await runCli(['controller', '--no-such-flag', '--kubeconfig', '/nonexistent']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^barelb: .*--no-such-flag/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.equal(r.stdout, '', 'nothing started, nothing logged');
});

t.test('bad flag values exit 2 naming the flag and the value', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--lease-duration', '5x'], /--lease-duration "5x": expected a duration such as 15s, 500ms or 2m/],
    [['--retry-period', '1.5'], /--retry-period "1\.5": expected a duration/],
    [['--renew-deadline', 'soon'], /--renew-deadline "soon": expected a duration/],
    [['--renew-deadline', '20s'], /--renew-deadline "20s": expected less than --lease-duration \(15s\)/],
    [['--workers', '0'], /--workers "0": expected a whole number of at least 1/],
    [['--metrics-addr', '0.0.0.0'], /--metrics-addr "0.0.0.0": expected HOST:PORT/],
    [['--log-format', 'pretty'], /--log-format "pretty": expected one of json, text/],
    [['--workers'], /--workers/],
    [['positional'], /positional/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(['controller', ...args, '--kubeconfig', '/nonexistent'])));
  for (const [i, [args, msg]] of cases.entries()) {
    const r = results[i] as Awaited<ReturnType<typeof runCli>>;
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, msg, `${args.join(' ')}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace`);
  }
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  logs: Record<string, unknown>[];
  out: string;
  /** Neither exited nor killed when the wait was over. */
  stillRunning: boolean;
}

/** Runs the controller against an API server that refuses connections for `ms`, then sends SIGTERM. */
async function runAgainstClosedPort(t: Test, extra: string[], ms: number): Promise<Exit> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'barelb-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort(); // closed again by the time the controller dials it
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: closed\n  cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}`,
      'users:',
      '- name: u\n  user: {token: not-a-real-token}',
      'contexts:',
      '- name: c\n  context: {cluster: closed, user: u}',
      'current-context: c',
      '',
    ].join('\n'),
  );
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'controller', '--kubeconfig', kubeconfig, '--metrics-addr', `127.0.0.1:${metricsPort}`, '--retry-period', '500ms', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({ KUBECONFIG: '' }) },
  );
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // Node start-up can take seconds on a busy machine: time from the first failed attempt.
  await eventually('the controller to log a failed attempt', 30_000, async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`controller exited early: ${out}`);
    return /ECONNREFUSED/.test(out) ? true : undefined;
  });
  // Whether it is still running once the wait is over: comparing a Date.now() difference with the
  // timer's delay flaked, since the two clocks may disagree by a millisecond.
  await new Promise((r) => setTimeout(r, ms));
  const stillRunning = child.exitCode === null && child.signalCode === null;
  // Still serving its health endpoint while the API server is unreachable.
  const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).then((r) => r.status, () => 0);
  t.equal(health, 200, '/healthz answers while the API server is unreachable');
  child.kill('SIGTERM');
  const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = await exited;
  clearTimeout(timeout);
  const logs = out.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  if (!extra.includes('--log-format')) t.ok(out.split('\n').filter((l) => l.trim() !== '').length === logs.length, 'every output line is a JSON log line');
  return { code, signal, logs, out, stillRunning };
}

t.test('without leader election: keeps retrying the list with a growing delay, exits 0 on SIGTERM', async (t) => {
  const r = await runAgainstClosedPort(t, ['--no-leader-elect'], 4_000);
  t.ok(r.stillRunning, 'still running after 4 s');
  t.equal(r.code, 0, 'exit code 0');
  t.equal(r.signal, null, 'exited by itself, not killed by the signal');
  const retries = r.logs.filter((l) => l['msg'] === 'cannot list from the API server; retrying');
  t.ok(retries.length >= 2, `logged ${retries.length} retries`);
  for (const l of retries) {
    t.match(l['err'], /ECONNREFUSED/, 'says why');
    t.type(l['retryInMs'], 'number', 'says when it tries again');
  }
  const delays = retries.filter((l) => l['informer'] === 'services').map((l) => l['retryInMs'] as number);
  t.ok(delays.length >= 2 && Math.max(...delays) > (delays[0] as number), `the delay grows: ${delays.join(', ')}`);
  t.ok(r.logs.some((l) => l['msg'] === 'shutting down' && l['signal'] === 'SIGTERM'), 'logs the shutdown');
  const msgs = r.logs.map((l) => l['msg']);
  // Both, in either order: pino's default stdout stream is asynchronous and the
  // flush at process.exit can put the last two lines out of order.
  t.ok(msgs.includes('shutting down') && msgs.includes('stopped'), 'logs "shutting down" and "stopped"');
  t.notOk(r.logs.some((l) => l['msg'] === 'controller synced; assigning'), 'never claims to be synced');
});

t.test('--log-format text: one readable line per record, nothing as JSON', async (t) => {
  const r = await runAgainstClosedPort(t, ['--no-leader-elect', '--log-format', 'text'], 1_000);
  const lines = r.out.split('\n').filter((l) => l.trim() !== '');
  t.equal(r.logs.length, 0, 'no JSON lines');
  t.ok(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} WARN {2}controller {2}cannot list from the API server; retrying .*err=/.test(l)), `a retry line reads as text:\n${lines.slice(0, 3).join('\n')}`);
  t.ok(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}controller {2}stopped/.test(l)), 'the last line too');
});

t.test('with leader election: keeps retrying the Lease, exits 0 on SIGTERM', async (t) => {
  const r = await runAgainstClosedPort(t, ['--lease-name', 'cli-test'], 3_000);
  t.ok(r.stillRunning, 'still running after 3 s');
  t.equal(r.code, 0, 'exit code 0');
  t.equal(r.signal, null);
  const retries = r.logs.filter((l) => l['msg'] === 'leader election: cannot reach the Lease; retrying');
  // --retry-period 500ms over 3 s: several attempts, not a hot loop.
  t.ok(retries.length >= 3 && retries.length <= 12, `retried ${retries.length} times at the retry period`);
  for (const l of retries) t.match(l['err'], /ECONNREFUSED 127\.0\.0\.1:\d+/, 'names the address it cannot reach');
  t.notOk(r.logs.some((l) => l['msg'] === 'became leader'), 'never became leader');
  const msgs = r.logs.map((l) => l['msg']);
  // Both, in either order: pino's default stdout stream is asynchronous and the
  // flush at process.exit can put the last two lines out of order.
  t.ok(msgs.includes('shutting down') && msgs.includes('stopped'), 'logs "shutting down" and "stopped"');
});
