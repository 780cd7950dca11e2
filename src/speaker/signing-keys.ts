import { HeartbeatKey } from '../election/heartbeat-frame.js';
import { chooseKeys, keyIds, type KeyRing, type PeerKeys } from '../election/signing-key-choice.js';
import type { Logger } from '../observability/logger.js';

/**
 * The heartbeat keys this speaker signs and accepts with, from the Secret and what the live speakers'
 * Leases say they hold (chooseKeys). Hands the L2 thread a new ring whenever it changes.
 */
export class SigningKeys {
  private secret: readonly string[] = [];
  private peers: readonly PeerKeys[] = [];
  private ring: KeyRing | undefined;
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly apply: (accepted: readonly string[]) => void,
    private readonly log: Logger,
  ) {}

  /** The Secret's keys (hex, `key` first), as read. */
  secretChanged(keys: readonly string[]): void {
    this.secret = keys;
    this.choose();
  }

  /** What the live speakers (this one left out) say they hold. */
  peersChanged(peers: readonly PeerKeys[]): void {
    this.peers = peers;
    this.choose();
  }

  /** Fingerprints of the accepted keys, the signing one first: this node's Lease publishes them. */
  published(): string[] {
    return this.ring ? keyIds(this.ring, this.idOf) : [];
  }

  private readonly idOf = (secret: string): string => {
    let id = this.ids.get(secret);
    if (id === undefined) this.ids.set(secret, (id = HeartbeatKey.fromSecret(Buffer.from(secret, 'hex')).id));
    return id;
  };

  private choose(): void {
    const next = chooseKeys({ secret: this.secret, current: this.ring, peers: this.peers, idOf: this.idOf });
    if (!next || (this.ring && next.signing === this.ring.signing && next.accepted.join() === this.ring.accepted.join())) return;
    const before = this.ring;
    this.ring = next;
    if (before && before.signing !== next.signing) this.log.info({ signing: this.idOf(next.signing) }, 'signing heartbeats with the new key: every live speaker holds it');
    else if (before && this.secret[0] !== undefined && next.signing !== this.secret[0]) {
      this.log.info({ signing: this.idOf(next.signing), waitingFor: this.idOf(this.secret[0]) }, 'new heartbeat key read; signing with the old one until every live speaker holds it');
    }
    this.apply(next.accepted);
  }
}
