import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../../testkit/lab.js';

// The README's main command, run as a user runs it: `bash scripts/demo.sh --once`
// from this machine's own namespaces (it builds a lab of its own, which it could not
// inside another lab: its subnet check would see that lab's route). It must show the
// Service's EXTERNAL-IP from the pool, the node announcing it and an answer through
// it, then leave no namespace or process of its lab behind.

const labNamespaces = (id: string): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`blb${id}-`));

/** PIDs of processes whose command line or environment names the lab's directory. */
function labProcesses(id: string): number[] {
  const dir = new RegExp(`/\\.lab/lab${id}(/|\\0|$)`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (dir.test(cmdline) || dir.test(environ)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

t.test('bash scripts/demo.sh --once shows the address, its node and an answer, then cleans up', async (t) => {
  const demo = spawn('bash', [path.join(ROOT, 'scripts/demo.sh'), '--once'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  });
  let out = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (out += d.toString()));

  // While it runs: its lab's namespaces and processes, seen from outside.
  let labId: string | undefined;
  let mostNamespaces = 0;
  let mostProcesses = 0;
  const watch = setInterval(() => {
    labId ??= /building lab (\d+):/.exec(out)?.[1];
    if (labId === undefined) return;
    mostNamespaces = Math.max(mostNamespaces, labNamespaces(labId).length);
    mostProcesses = Math.max(mostProcesses, labProcesses(labId).length);
  }, 1000);
  const killer = setTimeout(() => demo.kill('SIGTERM'), 900_000);
  const [code] = (await once(demo, 'exit')) as [number | null];
  clearInterval(watch);
  clearTimeout(killer);
  t.comment(out);

  t.equal(code, 0, 'exit status 0');
  t.ok(labId, 'it built a lab of its own');
  const id = labId as string;

  const row = /^demo\s+LoadBalancer\s+\S+\s+(\S+)\s+80:\d+\/TCP/m.exec(out);
  const ip = row?.[1] ?? '';
  const last = Number(ip.split('.')[3]);
  t.ok(ip.startsWith('198.51.100.') && last >= 200 && last <= 250, `kubectl get svc shows EXTERNAL-IP ${ip}, in the pool 198.51.100.200-250`);

  const announced = new RegExp(`EXTERNAL-IP ${ip.replace(/\./g, '\\.')} is announced by (node[123]): its speaker Lease barelb-speakers/barelb-speaker-node[123] lists it`).exec(out);
  t.ok(announced, `names the announcing node: ${announced?.[1]}`);

  const curl = new RegExp(`^\\$ ip netns exec blb${id}-client curl .*http://${ip.replace(/\./g, '\\.')}/\\n(.*)$`, 'm').exec(out);
  t.ok(curl, 'shows the request from the client namespace');
  const answer = JSON.parse(curl?.[1] ?? '{}') as { name?: string };
  t.match(answer.name, /^backend-node[123]$/, `a backend answered through ${ip}: ${curl?.[1]}`);
  t.match(out, /IPAllocated .*Assigned .* from pool "lan"/, 'the controller, as its ServiceAccount, assigned it');
  t.match(out, /AnnouncingIP .* announces /, 'a speaker, as its ServiceAccount, announced it');

  t.ok(mostNamespaces >= 6, `while it ran, its lab had ${mostNamespaces} namespaces (switch, control plane, client, 3 nodes)`);
  t.ok(mostProcesses >= 10, `while it ran, ${mostProcesses} processes belonged to its lab`);
  t.same(labNamespaces(id), [], `after exit, no blb${id}- namespace is left`);
  t.same(labProcesses(id), [], 'after exit, no process of its lab is left');
  t.notOk(existsSync(path.join(ROOT, '.lab', `lab${id}`)), `after exit, .lab/lab${id} is gone`);
});
