/**
 * The ARP thread: answers ARP and NDP for the held VIPs and speaks the heartbeats on its own event loop, so a reply
 * or a heartbeat never waits behind the main thread's informers and API calls, and a heartbeat proves
 * exactly the part that serves clients. Counters and log lines go back to the main thread in batches;
 * accepted heartbeats one by one.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { HEARTBEAT_ETHERTYPE, HEARTBEAT_MAX_FRAME, HeartbeatKey, decodeHeartbeat, encodeHeartbeat, heartbeatFrameLimit } from '../election/heartbeat-frame.js';
import { Membership } from '../election/membership.js';
import { REJOIN_CLAIMS_WAIT_MS } from '../election/rejoin.js';
import { MacAddress } from '../net/arp-frame.js';
import { PacketSocket, PacketSocketError, interfaceInfo } from '../net/packet-socket.js';
import { NeighborResponder } from './neighbor-responder.js';
import { CONTROL_SEQ, CONTROL_STATUS, type ArpCall, type ArpReport, type ArpWorkerData, type HeartbeatSettings } from './arp-thread-protocol.js';
import { HeartbeatSender } from './heartbeat-sender.js';

const COUNTS_EVERY_MS = 200;

const port = parentPort;
if (!port) throw new Error('arp-worker.js runs only as a worker thread');
const data = workerData as ArpWorkerData;
const control = new Int32Array(data.control);
const errorBytes = new Uint8Array(data.error);
const post = (m: ArpReport): void => port.postMessage(m);

const log = pino({ level: data.logLevel, base: undefined }, { write: (line: string) => post({ type: 'log', line }) });

interface OpenInterface {
  readonly responder: NeighborResponder;
  readonly mac: MacAddress;
  heartbeats: PacketSocket | undefined;
  /** The largest heartbeat frame the link carries, from its MTU as last read. */
  maxFrame: number;
}
const interfaces = new Map<string, OpenInterface>();

/**
 * ENETDOWN is the link going down: the socket lives on and receives again when the link is back. ENODEV (the
 * interface was removed) and EBADF (polling ended) leave it dead: the speaker closes and reopens it.
 */
function onSocketError(ifname: string, err: PacketSocketError): void {
  if (err.errno !== 'ENODEV' && err.errno !== 'EBADF') return;
  post({ type: 'socket-lost', ifname, errno: err.errno, message: err.message });
}
/** What this node answers for, as heartbeats claim it; rebuilt after any change (the sender keeps work per array). */
let claims: string[] | undefined;
const claimsChanged = (): void => {
  claims = undefined;
};
let counts = new Map<string, number>();
const bump = (ifname: string, key: string, n = 1): void => {
  const k = `${ifname}\0${key}`;
  counts.set(k, (counts.get(k) ?? 0) + n);
};

setInterval(() => {
  if (counts.size === 0) return;
  const batch = [...counts].map(([k, n]) => {
    const [ifname, key] = k.split('\0') as [string, string];
    return [ifname, key, n] as const;
  });
  counts = new Map();
  post({ type: 'counts', counts: batch });
}, COUNTS_EVERY_MS);

/** Heartbeats: nothing is sent until the main thread hands over the settings (and with them the key). */
let hb:
  | { settings: HeartbeatSettings; keys: HeartbeatKey[]; sender: HeartbeatSender; heard: Membership; timer: NodeJS.Timeout }
  | undefined;

function configureHeartbeats(settings: HeartbeatSettings): void {
  const keys = settings.keys.map((k) => HeartbeatKey.fromSecret(Buffer.from(k, 'hex')));
  if (hb && hb.settings.node === settings.node && hb.settings.incarnation === settings.incarnation && hb.settings.intervalMs === settings.intervalMs) {
    hb.settings = settings;
    hb.keys = keys; // a rotated key: same sender, same sequence
    return;
  }
  if (hb) clearInterval(hb.timer);
  const sender = new HeartbeatSender({ node: settings.node, incarnation: settings.incarnation, stallAfterMs: settings.failureTimeoutMs - settings.intervalMs });
  // This thread's own view of who it hears: for replay checks and the "hears" list of its heartbeats.
  const heard = new Membership(settings.node, { failureTimeoutMs: settings.failureTimeoutMs, pauseThresholdMs: settings.failureTimeoutMs - settings.intervalMs });
  if (suspended) sender.startRejoining(performance.now(), rejoinMs(settings));
  hb = { settings, keys, sender, heard, timer: setInterval(beat, settings.intervalMs) };
  for (const [ifname, o] of interfaces) openHeartbeats(ifname, o);
  beat();
}

/** Heartbeats say rejoining until the speaker resumes answering (it waits for peers' whole claim sets), bounded. */
function rejoinMs(settings: HeartbeatSettings): number {
  return settings.failureTimeoutMs + 2 * settings.intervalMs + REJOIN_CLAIMS_WAIT_MS;
}

/**
 * Answering is suspended after a stall until the speaker has heard what its peers did meanwhile (and
 * resumes it): peers may have declared this node dead and taken its addresses.
 */
let suspended = data.startSuspended;

/** Before anything else this thread does: after a stall, stop answering first. True while answering is allowed. */
function guard(): boolean {
  if (!hb) return !suspended;
  const gapMs = hb.sender.checkStall(performance.now(), rejoinMs(hb.settings));
  if (gapMs !== undefined) {
    suspended = true;
    log.warn({ gapMs: Math.round(gapMs) }, 'this thread was stalled long enough for peers to give up on it: not answering until the speaker has heard them');
    post({ type: 'stalled', gapMs });
  }
  return !suspended;
}

/**
 * The MTU is read again every beat (one ioctl): a link whose MTU is lowered at run time (an overlay set up
 * under the node) gets smaller frames at once, not EMSGSIZE on every full chunk.
 */
function readMaxFrame(ifname: string, o: OpenInterface | undefined): number {
  try {
    return heartbeatFrameLimit(interfaceInfo(ifname).mtu);
  } catch {
    return o?.maxFrame ?? HEARTBEAT_MAX_FRAME; // gone: the socket reports it
  }
}

/** The last reason no heartbeat could be made, logged once per distinct reason. */
let unsendable: string | undefined;

function beat(): void {
  if (!hb) return;
  guard();
  const now = performance.now();
  hb.heard.tick(now);
  claims ??= [...interfaces.values()].flatMap((o) => [...o.responder.addresses]);
  const open = [...interfaces].filter(([, o]) => o.heartbeats !== undefined);
  for (const [ifname, o] of open) o.maxFrame = readMaxFrame(ifname, o);
  let outgoing;
  try {
    outgoing = hb.sender.beat(now, open.map(([ifname]) => ifname), claims, (ifname) => hb?.heard.hearing(ifname, now) ?? [], (ifname) => interfaces.get(ifname)?.maxFrame ?? HEARTBEAT_MAX_FRAME);
    unsendable = undefined;
  } catch (err) {
    // Never a reason to end this thread (it answers ARP too): count it, say it once, try again next beat.
    for (const [ifname] of open) bump(ifname, 'hb-send-failed');
    const message = (err as Error).message;
    if (message !== unsendable) log.error({ err: message }, 'cannot make a heartbeat: peers stop hearing this node');
    unsendable = message;
    return;
  }
  for (const out of outgoing) {
    const o = interfaces.get(out.ifname);
    if (!o?.heartbeats) continue;
    try {
      o.heartbeats.send(encodeHeartbeat(out.heartbeat, o.mac, hb.keys[0] as HeartbeatKey, o.maxFrame));
      bump(out.ifname, 'hb-sent');
    } catch (err) {
      bump(out.ifname, 'hb-send-failed');
      log.debug({ ifname: out.ifname, err: (err as Error).message }, 'could not send a heartbeat');
    }
  }
}

function onHeartbeatFrame(ifname: string, frame: Uint8Array): void {
  guard();
  if (!hb) return;
  const d = decodeHeartbeat(frame, hb.keys);
  if (!d.ok) return bump(ifname, `hb-drop:${d.reason}`);
  const verdict = hb.heard.onHeartbeat(ifname, d.heartbeat, performance.now());
  if (verdict === 'replay') return bump(ifname, 'hb-drop:replay');
  if (verdict === 'self') return bump(ifname, 'hb-drop:own');
  bump(ifname, 'hb-received');
  post({ type: 'heartbeat', ifname, heartbeat: d.heartbeat });
}

function openHeartbeats(ifname: string, o: OpenInterface): void {
  if (o.heartbeats) return;
  o.heartbeats = PacketSocket.open(
    ifname,
    (frame) => onHeartbeatFrame(ifname, frame),
    (err: PacketSocketError) => {
      log.warn({ ifname, err: err.message, errno: err.errno }, 'heartbeat socket error');
      onSocketError(ifname, err);
    },
    { ethertype: HEARTBEAT_ETHERTYPE },
  );
}

function perform(call: ArpCall): void {
  switch (call.op) {
    case 'open': {
      if (interfaces.has(call.ifname)) return;
      const mac = MacAddress.parse(call.mac);
      const responder = new NeighborResponder(
        call.ifname,
        mac,
        {
          observe: (d, ifname) => bump(ifname, d.action === 'ignore' || d.action === 'drop' ? `${d.action}:${d.reason}` : d.action),
          observeNdp: (d, ifname) => bump(ifname, d.action === 'ignore' || d.action === 'drop' ? `ndp-${d.action}:${d.reason}` : `ndp-${d.action}`),
          announced: (ifname, family) => bump(ifname, family === 'IPv4' ? 'garp' : 'ndp-unsolicited'),
          suspended: (ifname) => bump(ifname, 'ignore:suspended'),
          socketError: onSocketError,
        },
        log,
        guard,
      );
      responder.start(call.garpRefreshSeconds);
      const o: OpenInterface = { responder, mac, heartbeats: undefined, maxFrame: readMaxFrame(call.ifname, undefined) };
      try {
        if (hb) openHeartbeats(call.ifname, o);
      } catch (err) {
        responder.stop();
        throw err;
      }
      interfaces.set(call.ifname, o);
      return;
    }
    case 'announce':
      guard();
      claimsChanged();
      return interfaces.get(call.ifname)?.responder.announce(call.ip);
    case 'withdraw':
      claimsChanged();
      return interfaces.get(call.ifname)?.responder.withdraw(call.ip);
    case 'stop': {
      claimsChanged();
      const o = interfaces.get(call.ifname);
      o?.responder.stop();
      o?.heartbeats?.close();
      interfaces.delete(call.ifname);
      return;
    }
    case 'heartbeat':
      return configureHeartbeats(call.settings);
    case 'resume':
      suspended = false;
      hb?.sender.resumed();
      return;
    case 'flags':
      if (!hb) return;
      hb.sender.setApiReachable(call.apiReachable);
      hb.sender.setUnfit(call.unfit);
      if (call.leaving) {
        hb.sender.setLeaving(true);
        beat(); // say it now: peers take over at once
      }
      return;
  }
}

port.on('message', (call: ArpCall) => {
  let status = 0;
  try {
    perform(call);
  } catch (err) {
    status = 1;
    const e = err as Error;
    const text = JSON.stringify({ message: e.message, errno: err instanceof PacketSocketError ? err.errno : undefined });
    const n = new TextEncoder().encodeInto(text, errorBytes.subarray(0, errorBytes.length - 1)).written;
    errorBytes[n] = 0;
  }
  Atomics.store(control, CONTROL_STATUS, status);
  Atomics.store(control, CONTROL_SEQ, call.seq);
  Atomics.notify(control, CONTROL_SEQ);
});

post({ type: 'ready' });
