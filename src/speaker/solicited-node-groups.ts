import { createSocket, type Socket } from 'node:dgram';
import type { IpAddress } from '../net/ip.js';
import { solicitedNodeAddress } from '../net/ndp-frame.js';

/**
 * The solicited-node multicast groups of the IPv6 VIPs held on one interface, joined through the kernel
 * (IPV6_ADD_MEMBERSHIP on a UDP socket): the NIC's multicast filter then passes the Neighbor Solicitations
 * for them up, and the kernel reports the membership with MLD, so snooping switches forward them to this
 * port. VIPs that share their last 24 bits share a group: joined once, left with the last of them.
 * Closing the socket leaves every group.
 */
export class SolicitedNodeGroups {
  private readonly socket: Socket;
  private readonly users = new Map<string, number>();

  constructor(readonly ifname: string) {
    this.socket = createSocket({ type: 'udp6' });
    this.socket.unref();
  }

  /** Throws when the kernel refuses (no IPv6 on the interface, or no such interface). */
  join(vip: IpAddress): void {
    const group = solicitedNodeAddress(vip).toString();
    const n = this.users.get(group) ?? 0;
    if (n === 0) this.socket.addMembership(group, `::%${this.ifname}`);
    this.users.set(group, n + 1);
  }

  leave(vip: IpAddress): void {
    const group = solicitedNodeAddress(vip).toString();
    const n = this.users.get(group) ?? 0;
    if (n > 1) return void this.users.set(group, n - 1);
    if (n === 0) return;
    this.users.delete(group);
    try {
      this.socket.dropMembership(group, `::%${this.ifname}`);
    } catch {
      // The interface is gone, and the membership with it.
    }
  }

  /** The groups joined now (canonical text). */
  get joined(): string[] {
    return [...this.users.keys()];
  }

  close(): void {
    this.users.clear();
    this.socket.close();
  }
}
