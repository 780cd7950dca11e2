/**
 * Two network namespaces joined by a veth pair, for the unit tests that need a
 * real kernel (the packet socket, the ARP thread). No default route; removed
 * in teardown, on process exit, and by a detached watchdog if tap kills the
 * test with a signal (which skips both).
 */
import { spawn, spawnSync } from 'node:child_process';

export interface VethPair {
  readonly nsA: string;
  readonly nsB: string;
  readonly ifA: string;
  readonly ifB: string;
  /** Kills what runs in both namespaces (all started by the test) and deletes them. */
  cleanup(): void;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

/**
 * `cidrA`/`cidrB`: addresses with prefix on a subnet no host route overlaps (e.g. 198.18.x.0/24); IPv6 ones
 * (2001:db8::/32) are added without duplicate address detection, so they are usable at once.
 */
export function createVethPair(tag: string, cidrA: string, cidrB: string, v6?: { readonly a: string; readonly b: string }): VethPair {
  const nsA = `blb-${tag}-${process.pid}-a`;
  const nsB = `blb-${tag}-${process.pid}-b`;
  const [ifA, ifB] = ['blbA', 'blbB'];
  const script = [nsA, nsB].map((ns) => `ip netns pids ${ns} 2>/dev/null | xargs -r kill -9; ip netns del ${ns} 2>/dev/null`).join('; ');
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.2; done; ${script}`], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    spawnSync('sh', ['-c', script]);
    if (watchdog.exitCode === null) watchdog.kill('SIGKILL');
  };
  process.once('exit', cleanup);
  ip('netns', 'add', nsA);
  ip('netns', 'add', nsB);
  ip('-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
  for (const [ns, ifname, cidr, cidr6] of [[nsA, ifA, cidrA, v6?.a], [nsB, ifB, cidrB, v6?.b]] as const) {
    ip('-n', ns, 'addr', 'add', cidr, 'dev', ifname);
    if (cidr6) ip('-n', ns, 'addr', 'add', cidr6, 'dev', ifname, 'nodad');
    ip('-n', ns, 'link', 'set', ifname, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  return { nsA, nsB, ifA, ifB, cleanup };
}
