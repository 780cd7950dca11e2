import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import t from 'tap';
import { LeaderElector, type ElectionTimers } from '../../src/k8s/leader-elector.js';
import type { LeaseClient, LeaseSnapshot } from '../../src/k8s/lease-client.js';

// The leader elector against a scripted Lease API: each call's answer is chosen by the test (success, a
// status error, or a call that never returns), on short real timers.
const log = pino({ level: 'silent' });
const TIMERS: ElectionTimers = { leaseDurationMs: 1500, renewDeadlineMs: 400, retryPeriodMs: 50 };

type Answer = 'ok' | 'hang' | number;

class ScriptedLease {
  readonly namespace = 'barelb-system';
  readonly name = 'barelb-controller';
  holder: string | undefined;
  version = 1;
  calls: { op: string; atMs: number }[] = [];
  /** The answer to the next write (and every later one, once the script runs out). */
  script: Answer[] = [];
  private lastAnswer: Answer = 'ok';

  private answer(op: string): Promise<void> {
    this.calls.push({ op, atMs: performance.now() });
    const a = this.script.length ? (this.script.shift() as Answer) : this.lastAnswer;
    this.lastAnswer = a;
    if (a === 'hang') return new Promise(() => undefined);
    if (typeof a === 'number') return Promise.reject(Object.assign(new Error(`HTTP ${a}`), { code: a }));
    return Promise.resolve();
  }

  private snap(): LeaseSnapshot {
    return { raw: { metadata: { resourceVersion: String(this.version) } }, record: { holder: this.holder, durationSeconds: 2, version: String(this.version) } };
  }

  async get(): Promise<LeaseSnapshot | undefined> {
    this.calls.push({ op: 'get', atMs: performance.now() });
    return this.holder === undefined && this.version === 1 ? undefined : this.snap();
  }

  async create(holder: string): Promise<LeaseSnapshot> {
    await this.answer('create');
    this.holder = holder;
    this.version++;
    return this.snap();
  }

  async write(_prev: LeaseSnapshot, holder: string | undefined): Promise<LeaseSnapshot> {
    await this.answer('write');
    this.holder = holder;
    this.version++;
    return this.snap();
  }
}

/** Runs an elector until its first term ends; resolves with when work started and stopped. */
async function firstTerm(lease: ScriptedLease, timers = TIMERS): Promise<{ startedMs: number; stoppedMs: number; stop: () => void; done: Promise<void> }> {
  const stop = new AbortController();
  let startedMs = 0;
  let resolveStopped: (ms: number) => void = () => undefined;
  const stopped = new Promise<number>((r) => (resolveStopped = r));
  const elector = new LeaderElector(lease as unknown as LeaseClient, 'me', timers, log);
  const done = elector.run(stop.signal, async (signal) => {
    startedMs = performance.now();
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    resolveStopped(performance.now());
  });
  const stoppedMs = await stopped;
  return { startedMs, stoppedMs, stop: () => stop.abort(), done };
}

t.test('a renewal that hangs: work stops at the renew deadline, long before the Lease can expire for a standby', async (t) => {
  const lease = new ScriptedLease();
  lease.script = ['ok', 'ok', 'ok', 'hang'];
  const term = await firstTerm(lease);
  const lastOk = lease.calls.filter((c) => c.op === 'write' || c.op === 'create')[2]?.atMs ?? 0;
  const after = term.stoppedMs - lastOk;
  t.comment(`work stopped ${Math.round(after)} ms after the last renewal that succeeded was sent`);
  t.ok(after >= TIMERS.renewDeadlineMs - 5, 'not before the renew deadline');
  t.ok(after < TIMERS.leaseDurationMs, `stopped within the lease duration (${TIMERS.leaseDurationMs} ms), while the renewal still hangs`);
  term.stop();
});

t.test('renewals refused with 500 or 429: leadership ends at the deadline, then the elector tries again', async (t) => {
  for (const status of [500, 429]) {
    const lease = new ScriptedLease();
    lease.script = ['ok', status];
    const term = await firstTerm(lease);
    const after = term.stoppedMs - term.startedMs;
    t.ok(after >= TIMERS.renewDeadlineMs - 60 && after < TIMERS.leaseDurationMs, `${status}: work stopped after ${Math.round(after)} ms`);
    term.stop();
    await term.done;
  }
});

t.test('a conflict on renewal (someone else wrote the Lease) ends leadership at once', async (t) => {
  const lease = new ScriptedLease();
  lease.script = ['ok', 'ok', 409];
  const term = await firstTerm(lease);
  const conflictAt = lease.calls.filter((c) => c.op === 'write')[1]?.atMs ?? 0;
  t.ok(term.stoppedMs - conflictAt < TIMERS.renewDeadlineMs, `stopped ${Math.round(term.stoppedMs - conflictAt)} ms after the conflict`);
  term.stop();
  await term.done;
});

t.test('a Lease held by another identity is left alone until it stops changing for its duration, then taken', async (t) => {
  const lease = new ScriptedLease();
  lease.holder = 'other';
  lease.version = 5;
  const began = performance.now();
  const term = firstTerm(lease);
  // The other holder renews for a while: no takeover meanwhile.
  const renewing = setInterval(() => lease.version++, 100);
  await new Promise((r) => setTimeout(r, 800));
  t.equal(lease.holder, 'other', 'not taken while it is renewed');
  clearInterval(renewing);
  const taken = await new Promise<number>((resolve) => {
    const check = setInterval(() => {
      if (lease.holder === 'me') {
        clearInterval(check);
        resolve(performance.now());
      }
    }, 10);
  });
  // The scripted Lease says leaseDurationSeconds: 2; the standby counts it on its own clock from the last change it saw.
  t.ok(taken - began >= 800 + 2000 - 150, `taken ${Math.round(taken - began - 800)} ms after the renewals stopped (the Lease says 2 s)`);
  lease.script = [409];
  const ended = await term;
  ended.stop();
  await ended.done;
});

t.test('a leader that stops gives the Lease back', async (t) => {
  const lease = new ScriptedLease();
  const stop = new AbortController();
  const elector = new LeaderElector(lease as unknown as LeaseClient, 'me', TIMERS, log);
  let leading = false;
  const done = elector.run(stop.signal, async (signal) => {
    leading = true;
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  });
  while (!leading) await new Promise((r) => setTimeout(r, 10));
  stop.abort();
  await done;
  t.equal(lease.holder, undefined, 'released: no holder');
});

t.test('the renew deadline must be shorter than the lease', async (t) => {
  t.throws(() => new LeaderElector(new ScriptedLease() as unknown as LeaseClient, 'me', { leaseDurationMs: 1000, renewDeadlineMs: 1000, retryPeriodMs: 10 }, log));
});
