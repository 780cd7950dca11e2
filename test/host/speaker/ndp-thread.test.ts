/**
 * The NDP side of the ARP thread against a real kernel: a child in namespace A runs ArpThread on one end of
 * a veth pair and announces an IPv6 VIP; namespace B's kernel and ndisc6 ask for it. Proves the solicited-
 * node group is joined and left with the VIP, that B's kernel accepts the answers (its neighbour entry), that
 * an unsolicited advertisement overrides a stale entry, that a duplicate address probe is defended (B's
 * kernel gives up the address), and that the kernel filter keeps other IPv6 traffic out of user space.
 * Needs root, iproute2, curl and ndisc6.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { eventually } from '../../../testkit/support.js';
import { ROOT } from '../../../testkit/lab.js';
import { createVethPair } from '../../../testkit/veth-pair.js';

const run = promisify(execFile);
const VIP = '2001:db8:9::50';
const GROUP = 'ff02::1:ff00:50';
const pair = createVethPair('nd', '198.18.10.1/24', '198.18.10.2/24', { a: '2001:db8:9::1/64', b: '2001:db8:9::2/64' });
t.teardown(() => pair.cleanup());

// Runs with tap's loaders (process.execArgv), so it imports the TypeScript sources.
const CHILD = String.raw`
const { ArpThread } = await import(process.env.M_THREAD);
const { MacAddress } = await import(process.env.M_FRAME);
const { interfaceInfo } = await import(process.env.M_SOCKET);
const { pino } = await import('pino');
const { createInterface } = await import('node:readline');
const out = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const counts = {};
const log = pino({ level: 'info' }, { write: () => undefined });
const thread = await ArpThread.start({ count: (i, k, n) => (counts[k] = (counts[k] ?? 0) + n), heartbeat: () => undefined, stalled: () => undefined, socketLost: () => undefined }, log);
const ifname = process.env.IFNAME;
const nd = thread.open(ifname, MacAddress.fromBytes(interfaceInfo(ifname).mac), 0);
nd.announce(process.env.VIP);
out({ ready: true });
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'withdraw') { nd.withdraw(process.env.VIP); out({ withdrawn: true }); }
  if (line === 'announce') { nd.announce(process.env.VIP); out({ announced: true }); }
  if (line === 'state') setTimeout(() => out({ state: { counts } }), 400); // after the next counter batch
  if (line === 'close') { await thread.close(); out({ closed: true }); }
});
`;

const mod = (p: string) => new URL(p, import.meta.url).href;
mkdirSync(path.join(ROOT, '.lab'), { recursive: true });
const dir = mkdtempSync(path.join(ROOT, '.lab', 'ndp-thread-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const script = path.join(dir, 'child.mjs');
writeFileSync(script, CHILD);
const child = spawn('ip', ['netns', 'exec', pair.nsA, process.execPath, ...process.execArgv, script], {
  env: {
    ...process.env,
    M_THREAD: mod('../../../src/speaker/arp-thread.js'),
    M_FRAME: mod('../../../src/net/arp-frame.js'),
    M_SOCKET: mod('../../../src/net/packet-socket.js'),
    IFNAME: pair.ifA,
    VIP,
  },
  stdio: ['pipe', 'pipe', 'pipe'],
});
t.teardown(() => child.kill('SIGKILL'));
let stderr = '';
child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
const messages: Record<string, unknown>[] = [];
createInterface({ input: child.stdout }).on('line', (l) => messages.push(JSON.parse(l) as Record<string, unknown>));

async function next(key: string): Promise<unknown> {
  return eventually(`"${key}" from the child (stderr: ${stderr})`, 20_000, async () => {
    if (child.exitCode !== null) throw new Error(`the child exited; stderr:\n${stderr}`);
    const i = messages.findIndex((m) => key in m);
    return i >= 0 ? ((messages.splice(i, 1)[0] as Record<string, unknown>)[key] ?? true) : undefined;
  }, 50);
}
async function ask(command: string, key: string): Promise<unknown> {
  child.stdin.write(`${command}\n`);
  return next(key);
}

const inB = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', pair.nsB, cmd, ...args]).then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '');
/** MACs that answered ndisc6's solicitations for the VIP from namespace B. */
async function ndisc(): Promise<string[]> {
  const out = await inB('ndisc6', ['-m', '-n', '-r', '2', '-w', '400', VIP, pair.ifB]);
  return [...new Set([...out.matchAll(/Target link-layer address: ([0-9A-Fa-f:]{17})/g)].map((m) => (m[1] as string).toLowerCase()))];
}
const groupsA = async () => (await run('ip', ['-n', pair.nsA, '-6', 'maddr', 'show', 'dev', pair.ifA])).stdout;
const neighbourB = async () => (await run('ip', ['-n', pair.nsB, '-6', 'neigh', 'show', VIP, 'dev', pair.ifB])).stdout;
const macA = async () => (await run('ip', ['-n', pair.nsA, '-j', 'link', 'show', pair.ifA]).then((r) => JSON.parse(r.stdout) as { address: string }[]))[0]?.address;

t.test('answers NDP from the worker, with the group joined; the kernel of the asker believes it', async (t) => {
  await next('ready');
  const mac = await macA();
  t.match(await groupsA(), GROUP, `the solicited-node group ${GROUP} is joined on ${pair.ifA}`);
  t.same(await ndisc(), [mac], 'ndisc6 gets one answer, with the interface MAC');

  // B's own kernel resolves the VIP (a TCP connection needs its link-layer address; nothing answers the SYN).
  await inB('curl', ['-s', '-g', '--max-time', '1', `http://[${VIP}]:9/`]);
  t.match(await neighbourB(), new RegExp(`lladdr ${mac}`), "B's kernel accepted the advertisement into its neighbour table");

  // A stale entry pointing elsewhere, as a client has after a failover: the takeover burst overrides it.
  await run('ip', ['-n', pair.nsB, '-6', 'neigh', 'replace', VIP, 'lladdr', '02:00:5e:00:00:99', 'dev', pair.ifB, 'nud', 'stale']);
  await ask('withdraw', 'withdrawn');
  t.notMatch(await groupsA(), GROUP, 'the group is left with the last VIP in it');
  t.same(await ndisc(), [], 'no answer once withdraw returned');
  t.match(await neighbourB(), /02:00:5e:00:00:99/, 'the stale entry is still there');
  await ask('announce', 'announced');
  await eventually('the unsolicited advertisement to override the stale entry', 5_000, async () => ((await neighbourB()).includes(`lladdr ${mac}`) ? true : undefined));
  t.pass('the unsolicited advertisement (override flag) updated the neighbour entry');
});

t.test('a duplicate address probe for the VIP is defended; other IPv6 traffic never reaches user space', async (t) => {
  // Past the takeover burst: an unsolicited advertisement during the probe would fail it without a defence.
  await new Promise((r) => setTimeout(r, 3500));
  const before = ((await ask('state', 'state')) as { counts: Record<string, number> }).counts;
  // B's kernel probes before using an address (DAD, from ::): the defence makes it give the address up.
  await run('ip', ['-n', pair.nsB, '-6', 'addr', 'add', `${VIP}/64`, 'dev', pair.ifB]);
  const state = await eventually("B's kernel to finish duplicate address detection", 10_000, async () => {
    const out = (await run('ip', ['-n', pair.nsB, '-6', 'addr', 'show', 'dev', pair.ifB])).stdout;
    const line = out.split('\n').find((l) => l.includes(`${VIP}/64`)) ?? '';
    return line.includes('tentative') && !line.includes('dadfailed') ? undefined : line;
  });
  t.match(state, /dadfailed/, `B's kernel marked the address as a duplicate: ${state.trim()}`);
  await run('ip', ['-n', pair.nsB, '-6', 'addr', 'del', `${VIP}/64`, 'dev', pair.ifB]);

  // TCP to A's own address (SYN, RST): IPv6 that the kernel filter keeps out.
  for (let i = 0; i < 10; i++) await inB('curl', ['-s', '-g', '--max-time', '1', 'http://[2001:db8:9::1]:9/']);
  const after = ((await ask('state', 'state')) as { counts: Record<string, number> }).counts;
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  t.ok(delta('ndp-defend') >= 1, `the probe was answered as a defence (${delta('ndp-defend')})`);
  const dropped = Object.keys(after).filter((k) => k.startsWith('ndp-drop:')).reduce((n, k) => n + delta(k), 0);
  t.equal(dropped, 0, 'no TCP segment reached the NDP handler (nothing dropped there, whatever the reason)');
  t.ok((after['ndp-answer'] ?? 0) >= 2, `solicitations answered and counted: ${JSON.stringify(after)}`);
  t.ok((after['ndp-unsolicited'] ?? 0) >= 1, 'unsolicited advertisements counted');

  await ask('close', 'closed');
  t.same(await ndisc(), [], 'nothing answers after close');
  t.notMatch(await groupsA(), GROUP, 'and no group is left joined');
});
