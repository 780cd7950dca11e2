/** Messages between the speaker's main thread and its ARP thread (arp-thread.ts, arp-worker.ts). */
import type { Heartbeat } from '../election/heartbeat-frame.js';

/** How the ARP thread speaks on the LAN: heartbeats on every open interface, authenticated with `keys[0]`. */
export interface HeartbeatSettings {
  readonly node: string;
  readonly incarnation: number;
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  /** Hex secrets: the first signs, every one verifies (rotation). */
  readonly keys: readonly string[];
}

/** What the speaker says of itself in its heartbeats (see HeartbeatFlags). */
export interface HeartbeatFlagsSetting {
  readonly leaving: boolean;
  readonly apiReachable: boolean;
  readonly unfit: boolean;
}

/** One call from the main thread; the worker acknowledges `seq` through the shared control words. */
export type ArpCommand =
  | { readonly op: 'open'; readonly ifname: string; readonly mac: string; readonly garpRefreshSeconds: number }
  | { readonly op: 'announce'; readonly ifname: string; readonly ip: string }
  | { readonly op: 'withdraw'; readonly ifname: string; readonly ip: string }
  | { readonly op: 'stop'; readonly ifname: string }
  | { readonly op: 'heartbeat'; readonly settings: HeartbeatSettings }
  | ({ readonly op: 'flags' } & HeartbeatFlagsSetting)
  /** Answer again after a stall (the speaker has decided what it keeps). */
  | { readonly op: 'resume' };

export type ArpCall = ArpCommand & { readonly seq: number };

/** What the worker reports on its own: counters since the last report, log lines, readiness. */
export type ArpReport =
  | { readonly type: 'ready' }
  /** [interface, counter key, increment]; keys: answer, conflict, garp, ignore:<reason>, drop:<reason>,
   * ndp-answer, ndp-defend, ndp-conflict, ndp-unsolicited, ndp-ignore:<reason>, ndp-drop:<reason>,
   * hb-sent, hb-send-failed, hb-received, hb-drop:<reason>. */
  | { readonly type: 'counts'; readonly counts: readonly (readonly [string, string, number])[] }
  | { readonly type: 'log'; readonly line: string }
  /** An authenticated, fresh heartbeat from a peer, heard on `ifname`. */
  | { readonly type: 'heartbeat'; readonly ifname: string; readonly heartbeat: Heartbeat }
  /** The thread was stalled long enough for peers to declare it dead: it stopped answering until 'resume'. */
  | { readonly type: 'stalled'; readonly gapMs: number }
  /** A packet socket on `ifname` stopped for good (interface removed, polling ended): close and reopen it. */
  | { readonly type: 'socket-lost'; readonly ifname: string; readonly errno: string | undefined; readonly message: string };

export interface ArpWorkerData {
  /** Int32Array over it: [0] the last acknowledged seq, [1] its status (0 ok, 1 failed). */
  readonly control: SharedArrayBuffer;
  /** A failed call's error as JSON `{message, errno}`, NUL-terminated. */
  readonly error: SharedArrayBuffer;
  readonly logLevel: string;
  /**
   * A replacement for a worker that died or was terminated: it answers nothing until 'resume', and its
   * heartbeats say rejoining, as after a stall. Peers may have taken over while no thread answered.
   */
  readonly startSuspended: boolean;
}

export const CONTROL_SEQ = 0;
export const CONTROL_STATUS = 1;
