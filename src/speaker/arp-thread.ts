import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { MacAddress } from '../net/arp-frame.js';
import { PacketSocketError } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import type { Heartbeat } from '../election/heartbeat-frame.js';
import { CONTROL_SEQ, CONTROL_STATUS, type ArpCommand, type ArpReport, type ArpWorkerData, type HeartbeatFlagsSetting, type HeartbeatSettings } from './arp-thread-protocol.js';

/** Counter increments from the ARP thread; keys as in ArpReport 'counts'. */
export type ArpCountSink = (ifname: string, key: string, n: number) => void;

/** What the ARP thread tells the speaker on its own. */
export interface ArpThreadEvents {
  /** Counter increments; keys as in ArpReport 'counts'. */
  count: ArpCountSink;
  /** An authenticated, fresh heartbeat from a peer. */
  heartbeat(ifname: string, hb: Heartbeat): void;
  /**
   * Answering is suspended until resume(): the thread was stalled (`stall`), or it was lost and a new one
   * replaced it (`restart`); for `gapMs` nothing was answered or heard, and peers may have taken over.
   */
  stalled(gapMs: number, cause: 'stall' | 'restart'): void;
  /** A packet socket on the interface is dead (removed interface, polling ended): stop() it and open again. */
  socketLost(ifname: string, why: string): void;
}

/** One interface's answering, as the speaker sees it. */
export interface ArpInterface {
  readonly ifname: string;
  announce(ip: string): void;
  withdraw(ip: string): void;
  stop(): void;
}

// A healthy worker confirms in microseconds; this only bounds a wedged one.
const CALL_TIMEOUT_MS = 1000;
const RESTART_DELAYS_MS = [100, 500, 2000, 5000];

/** Compiled code runs arp-worker.js beside this file; the TypeScript sources (tests) run arp-worker.ts. */
function workerFile(): URL {
  const js = new URL('./arp-worker.js', import.meta.url);
  return existsSync(fileURLToPath(js)) ? js : new URL('./arp-worker.ts', import.meta.url);
}

/**
 * The speaker's ARP thread, seen from the main thread. Every call is
 * synchronous: it returns once the worker has applied it, so "stopped
 * answering, then release the Lease" holds as it did on one thread. The main
 * thread keeps a mirror of what is open and held; if the worker dies (or
 * wedges past CALL_TIMEOUT_MS and is terminated) a new one is started and
 * the mirror replayed into it.
 */
export class ArpThread {
  private worker: Worker | undefined;
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly error = new Uint8Array(new SharedArrayBuffer(1024));
  private seq = 0;
  private readonly opened = new Map<string, { readonly mac: string; readonly garpRefreshSeconds: number; readonly held: Set<string> }>();
  private closing = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** When the last worker was lost: the replacement reports the gap. */
  private lostAtMs = 0;
  private heartbeatSettings: HeartbeatSettings | undefined;
  private flags: HeartbeatFlagsSetting = { leaving: false, apiReachable: true, unfit: false };

  private constructor(
    private readonly events: ArpThreadEvents,
    private readonly log: Logger,
  ) {}

  /** Starts the worker and waits until it takes calls. */
  static async start(events: ArpThreadEvents, log: Logger): Promise<ArpThread> {
    const thread = new ArpThread(events, log);
    await thread.spawn(false);
    return thread;
  }

  /**
   * A worker takes calls now. False between a lost worker and its replacement: nothing is answered or
   * heard then, so the speaker must not decide from the silence (every peer would look dead).
   */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Starts (or re-keys) the heartbeats on every open interface. */
  heartbeat(settings: HeartbeatSettings): void {
    this.heartbeatSettings = settings;
    this.call({ op: 'heartbeat', settings });
  }

  /** Answering again after a stall. */
  resume(): void {
    this.call({ op: 'resume' });
  }

  /** Changes what the heartbeats say of this node (the rest stays); `leaving` sends one at once. */
  setFlags(change: Partial<HeartbeatFlagsSetting>): void {
    const flags = { ...this.flags, ...change };
    if (flags.leaving === this.flags.leaving && flags.apiReachable === this.flags.apiReachable && flags.unfit === this.flags.unfit) return;
    this.flags = flags;
    this.call({ op: 'flags', ...flags });
  }

  /** Opens a packet socket on `ifname` in the worker; throws PacketSocketError as PacketSocket.open would. */
  open(ifname: string, mac: MacAddress, garpRefreshSeconds: number): ArpInterface {
    if (!this.opened.has(ifname)) {
      this.call({ op: 'open', ifname, mac: mac.toString(), garpRefreshSeconds });
      this.opened.set(ifname, { mac: mac.toString(), garpRefreshSeconds, held: new Set() });
    }
    return {
      ifname,
      announce: (ip) => {
        this.call({ op: 'announce', ifname, ip });
        this.opened.get(ifname)?.held.add(ip);
      },
      withdraw: (ip) => {
        this.opened.get(ifname)?.held.delete(ip);
        this.call({ op: 'withdraw', ifname, ip });
      },
      stop: () => {
        this.opened.delete(ifname);
        this.call({ op: 'stop', ifname });
      },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(replacement: boolean): Promise<void> {
    const data: ArpWorkerData = {
      control: this.control.buffer as SharedArrayBuffer,
      error: this.error.buffer as SharedArrayBuffer,
      logLevel: this.log.level,
      startSuspended: replacement,
    };
    const worker = new Worker(workerFile(), { workerData: data });
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: ArpReport) => {
        if (m.type === 'ready') {
          ready = true;
          this.worker = worker;
          this.replay();
          if (replacement) this.events.stalled(performance.now() - this.lostAtMs, 'restart');
          resolve();
        } else if (m.type === 'counts') {
          for (const [ifname, key, n] of m.counts) this.events.count(ifname, key, n);
        } else if (m.type === 'heartbeat') {
          this.events.heartbeat(m.ifname, m.heartbeat);
        } else if (m.type === 'stalled') {
          this.events.stalled(m.gapMs, 'stall');
        } else if (m.type === 'socket-lost') {
          this.events.socketLost(m.ifname, `${m.errno ?? 'error'}: ${m.message}`);
        } else {
          this.relay(m.line);
        }
      });
      worker.on('error', (err) => this.log.error({ err: err.message }, 'ARP thread failed'));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.lost();
        if (!ready) reject(new Error(`the ARP thread exited with code ${code} before it started`));
        else if (!this.closing) this.restartLater(`exited with code ${code}`);
      });
    });
  }

  private lost(): void {
    this.worker = undefined;
    this.lostAtMs = performance.now();
  }

  private restartLater(why: string): void {
    const delay = RESTART_DELAYS_MS[Math.min(this.restarts++, RESTART_DELAYS_MS.length - 1)] as number;
    this.log.error({ why, restartInMs: delay }, 'ARP thread lost; restarting it, answering again once the speaker has heard its peers');
    this.restartTimer = setTimeout(() => {
      this.spawn(true).catch((err: Error) => this.closing || this.restartLater(err.message));
    }, delay);
  }

  /** A fresh worker gets everything the old one had. */
  private replay(): void {
    if (this.heartbeatSettings) {
      // A new thread counts its sequence from 1 again: only a newer incarnation makes peers believe it.
      const settings = { ...this.heartbeatSettings, incarnation: Math.max(Date.now(), this.heartbeatSettings.incarnation + 1) };
      this.heartbeatSettings = settings;
      this.call({ op: 'heartbeat', settings });
    }
    if (this.flags.leaving || !this.flags.apiReachable || this.flags.unfit) this.call({ op: 'flags', ...this.flags });
    for (const [ifname, o] of this.opened) {
      try {
        this.call({ op: 'open', ifname, mac: o.mac, garpRefreshSeconds: o.garpRefreshSeconds });
        for (const ip of o.held) this.call({ op: 'announce', ifname, ip });
      } catch (err) {
        this.log.error({ ifname, err: (err as Error).message }, 'cannot reopen the packet socket in the new ARP thread');
      }
    }
  }

  private call(cmd: ArpCommand): void {
    const worker = this.worker;
    // Between workers: the mirror already says it, the replay will do it.
    if (!worker) return;
    const seq = ++this.seq;
    worker.postMessage({ ...cmd, seq });
    const deadline = performance.now() + CALL_TIMEOUT_MS;
    for (;;) {
      const acked = Atomics.load(this.control, CONTROL_SEQ);
      if (acked === seq) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        // It may still be answering: end it now rather than trust it.
        this.lost();
        void worker.terminate();
        this.log.error({ op: cmd.op, ifname: 'ifname' in cmd ? cmd.ifname : undefined }, `ARP thread did not confirm within ${CALL_TIMEOUT_MS} ms; terminated it`);
        return;
      }
      Atomics.wait(this.control, CONTROL_SEQ, acked, left);
    }
    if (Atomics.load(this.control, CONTROL_STATUS) === 0) return;
    const end = this.error.indexOf(0);
    const { message, errno } = JSON.parse(new TextDecoder().decode(this.error.slice(0, end < 0 ? undefined : end))) as { message: string; errno?: string };
    throw new PacketSocketError(message, errno);
  }

  /** The worker's log lines, through this thread's logger (one format, one destination). */
  private relay(line: string): void {
    const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string; time?: unknown };
    delete fields.time; // this thread's logger stamps its own
    const label = (pino.levels.labels[level] ?? 'info') as 'info';
    this.log[label]({ thread: 'arp', ...fields }, msg ?? '');
  }
}
