import { MacAddress } from '../net/arp-frame.js';
import { interfaceInfo } from '../net/packet-socket.js';

/** An open interface as the kernel knows it. */
export interface Link {
  readonly index: number;
  /** The kernel's MAC now (os.networkInterfaces() is read once a second and may still show the old one). */
  readonly mac: string;
}

/** Why an open interface has to be closed. */
export interface LinkLoss {
  readonly ifname: string;
  readonly reason: 'down' | 'replaced';
  readonly detail: string;
}

/** How often open interfaces are checked for lost links and recreation (a few ioctls each). */
const LINK_CHECK_MS = 200;

/** The same kernel interface with the same MAC: else it was recreated or readdressed, and is opened anew. */
export function sameLink(a: Link, b: Link): boolean {
  return a.index === b.index && a.mac === b.mac;
}

/** The interface when it can carry traffic (present, up, with carrier); undefined otherwise. */
export function linkOf(ifname: string): Link | undefined {
  try {
    const info = interfaceInfo(ifname);
    return info.up && info.carrier ? { index: info.index, mac: MacAddress.fromBytes(info.mac).toString() } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The kernel index and MAC each open interface had when it was opened. check() says which ones lost
 * their link (down, no carrier) or were recreated since, at most every LINK_CHECK_MS: libuv hides
 * interfaces without IFF_RUNNING, so this asks the kernel itself.
 */
export class LinkMonitor {
  private readonly open = new Map<string, Link>();
  private checkedAtMs = -Infinity;

  watch(ifname: string, link: Link): void {
    this.open.set(ifname, link);
  }

  forget(ifname: string): void {
    this.open.delete(ifname);
  }

  /** The link `ifname` was opened with, if it is open. */
  openedWith(ifname: string): Link | undefined {
    return this.open.get(ifname);
  }

  /** Interfaces to close, when a check is due; none otherwise. */
  check(now: number): LinkLoss[] {
    if (now - this.checkedAtMs < LINK_CHECK_MS) return [];
    this.checkedAtMs = now;
    const lost: LinkLoss[] = [];
    for (const [ifname, was] of this.open) {
      const link = linkOf(ifname);
      if (!link) lost.push({ ifname, reason: 'down', detail: 'no link or no carrier' });
      else if (!sameLink(link, was)) lost.push({ ifname, reason: 'replaced', detail: `recreated or readdressed (index ${was.index} -> ${link.index}, MAC ${was.mac} -> ${link.mac})` });
    }
    return lost;
  }
}
