/*
 * Which heartbeat key a speaker signs with, and which it accepts: pure, no I/O.
 *
 * Rotation must never split the cluster. Each speaker publishes in its Lease the keys it holds, the one it
 * signs with first (barelb.io/keys, fingerprints only). A speaker signs with the Secret's `key` only once
 * every live speaker holds it; until then it signs with the key it already used, so a peer that has not
 * read the Secret yet (it re-reads every 30 s, or cannot read it at all) still hears it. It accepts every
 * key of the Secret, the one it signs with, and any key a live peer still signs with, even after the Secret
 * dropped it (`previous-key` removed, the Secret deleted and created again under a fresh key): a key leaves
 * the accepted set only once no live speaker signs with it.
 */

export interface KeyRing {
  /** Hex secret this node signs with. */
  readonly signing: string;
  /** Hex secrets accepted, `signing` first. */
  readonly accepted: readonly string[];
}

export interface PeerKeys {
  readonly node: string;
  /** Fingerprints of the keys it holds, the signing one first; undefined: its Lease does not say (an older speaker). */
  readonly keys: readonly string[] | undefined;
}

export interface KeyChoiceInput {
  /** The Secret's keys, hex, `key` first; empty while it cannot be read or is gone. */
  readonly secret: readonly string[];
  /** What this node uses now; undefined before the first choice. */
  readonly current: KeyRing | undefined;
  /** The live speakers other than this one. */
  readonly peers: readonly PeerKeys[];
  /** A key's public fingerprint (HeartbeatKey.id). */
  readonly idOf: (secret: string) => string;
}

/** Undefined only with no key at all (no Secret yet, nothing in use). */
export function chooseKeys(input: KeyChoiceInput): KeyRing | undefined {
  const { secret, current, peers, idOf } = input;
  const wanted = secret[0] ?? current?.signing;
  if (wanted === undefined) return undefined;
  const everyoneHolds = (key: string): boolean => peers.every((p) => p.keys?.includes(idOf(key)) === true);
  const signing = current === undefined || current.signing === wanted || everyoneHolds(wanted) ? wanted : current.signing;
  const signedByPeers = new Set(peers.flatMap((p) => (p.keys === undefined ? [] : p.keys.slice(0, 1))));
  // An older speaker does not say what it signs with: keep every key while one is live.
  const unknown = peers.some((p) => p.keys === undefined);
  const kept = (current?.accepted ?? []).filter((k) => unknown || signedByPeers.has(idOf(k)));
  return { signing, accepted: [...new Set([signing, ...secret, ...kept])] };
}

/** What a Lease says of this node's keys: fingerprints, the signing one first. */
export function keyIds(ring: KeyRing, idOf: (secret: string) => string): string[] {
  return ring.accepted.map(idOf);
}
