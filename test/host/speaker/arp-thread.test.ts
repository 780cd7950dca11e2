/**
 * The ARP thread against a real kernel: a child in namespace A runs ArpThread
 * on one end of a veth pair, arping in namespace B asks for the VIP. Proves
 * answers come from the worker, a withdraw has taken effect when the call
 * returns, counters reach the main thread, and a dead worker is replaced with
 * its announcements replayed, suspended until resumed (a stall, not a takeover). Needs root, iproute2 and arping.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ROOT } from '../../../testkit/lab.js';
import { createVethPair } from '../../../testkit/veth-pair.js';

const run = promisify(execFile);
const VIP = '198.18.9.50';
const pair = createVethPair('at', '198.18.9.1/24', '198.18.9.2/24');
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
const logs = [];
const log = pino({ level: 'info' }, { write: (l) => logs.push(JSON.parse(l).msg) });
const thread = await ArpThread.start({ count: (i, k, n) => (counts[k] = (counts[k] ?? 0) + n), heartbeat: () => undefined, stalled: (gapMs, cause) => out({ stalled: cause }), socketLost: () => undefined }, log);
const ifname = process.env.IFNAME;
const arp = thread.open(ifname, MacAddress.fromBytes(interfaceInfo(ifname).mac), 0);
arp.announce(process.env.VIP);
out({ ready: true });
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'withdraw') { arp.withdraw(process.env.VIP); out({ withdrawn: true }); }
  if (line === 'announce') { arp.announce(process.env.VIP); out({ announced: true }); }
  if (line === 'crash') { await thread.worker.terminate(); out({ crashed: true }); }
  if (line === 'resume') { thread.resume(); out({ resumed: true }); }
  if (line === 'state') out({ state: { counts, logs } });
  if (line === 'close') { await thread.close(); out({ closed: true }); }
});
`;

const mod = (p: string) => new URL(p, import.meta.url).href;
// A file, not -e: a worker inherits the parent's flags, and --input-type would make it misread its own file.
// Inside the repository, so the child resolves pino from node_modules.
mkdirSync(path.join(ROOT, '.lab'), { recursive: true });
const dir = mkdtempSync(path.join(ROOT, '.lab', 'arp-thread-'));
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
let wake: (() => void) | undefined;
createInterface({ input: child.stdout }).on('line', (l) => {
  messages.push(JSON.parse(l) as Record<string, unknown>);
  wake?.();
});

async function next(key: string, ms = 20_000): Promise<unknown> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = messages.findIndex((m) => key in m);
    if (i >= 0) return (messages.splice(i, 1)[0] as Record<string, unknown>)[key];
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "${key}" from the child; stderr:\n${stderr}`);
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 100);
    });
  }
}
async function ask(command: string, key: string): Promise<unknown> {
  child.stdin.write(`${command}\n`);
  return next(key);
}

/** MACs that answered `count` ARP requests for the VIP from namespace B. */
async function arping(count: number): Promise<string[]> {
  const r = await run('ip', ['netns', 'exec', pair.nsB, 'arping', '-c', String(count), '-w', '2', '-W', '0.2', '-i', pair.ifB, VIP]).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return [...r.stdout.matchAll(/from ([0-9a-f:]{17})/g)].map((m) => m[1] as string);
}

const macA = async () => (await run('ip', ['-n', pair.nsA, '-j', 'link', 'show', pair.ifA]).then((r) => JSON.parse(r.stdout) as { address: string }[]))[0]?.address;

t.test('answers from the worker; a withdraw is in force when the call returns; a dead worker is replaced', async (t) => {
  await next('ready');
  const mac = await macA();
  t.same([...new Set(await arping(3))], [mac], 'the VIP is answered with the interface MAC');

  await ask('withdraw', 'withdrawn');
  t.same(await arping(3), [], 'no answer once withdraw returned');

  await ask('announce', 'announced');
  t.same([...new Set(await arping(2))], [mac], 'answered again after announce');

  await ask('crash', 'crashed');
  // A new worker is a stall, not a takeover: peers may have taken over while nothing answered here.
  t.equal(await next('stalled'), 'restart', 'the new worker reports itself as a stall, for the speaker to rejoin');
  t.same(await arping(3), [], 'and answers nothing until the speaker has heard its peers');
  await ask('resume', 'resumed');
  let answered: string[] = [];
  for (let i = 0; i < 20 && answered.length === 0; i++) answered = await arping(1);
  t.same([...new Set(answered)], [mac], 'resumed, it answers for what the old one held');

  const { counts, logs } = (await ask('state', 'state')) as { counts: Record<string, number>; logs: string[] };
  t.ok((counts['answer'] ?? 0) >= 3, `answers counted on the main thread: ${JSON.stringify(counts)}`);
  t.ok((counts['garp'] ?? 0) >= 1, 'gratuitous ARP counted');
  t.ok(logs.some((m) => /ARP thread lost; restarting/.test(m)), 'the restart is logged');

  await ask('close', 'closed');
  t.same(await arping(2), [], 'nothing answers after close');
});
