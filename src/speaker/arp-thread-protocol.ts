/** Messages between the speaker's main thread and its ARP thread (arp-thread.ts, arp-worker.ts). */

/** One call from the main thread; the worker acknowledges `seq` through the shared control words. */
export type ArpCommand =
  | { readonly op: 'open'; readonly ifname: string; readonly mac: string; readonly garpRefreshSeconds: number }
  | { readonly op: 'announce'; readonly ifname: string; readonly ip: string }
  | { readonly op: 'withdraw'; readonly ifname: string; readonly ip: string }
  | { readonly op: 'stop'; readonly ifname: string };

export type ArpCall = ArpCommand & { readonly seq: number };

/** What the worker reports on its own: counters since the last report, log lines, readiness. */
export type ArpReport =
  | { readonly type: 'ready' }
  /** [interface, counter key, increment]; keys: answer, conflict, garp, ignore:<reason>, drop:<reason>. */
  | { readonly type: 'counts'; readonly counts: readonly (readonly [string, string, number])[] }
  | { readonly type: 'log'; readonly line: string };

export interface ArpWorkerData {
  /** Int32Array over it: [0] the last acknowledged seq, [1] its status (0 ok, 1 failed). */
  readonly control: SharedArrayBuffer;
  /** A failed call's error as JSON `{message, errno}`, NUL-terminated. */
  readonly error: SharedArrayBuffer;
  readonly logLevel: string;
}

export const CONTROL_SEQ = 0;
export const CONTROL_STATUS = 1;
