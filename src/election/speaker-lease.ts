import { canonicalIp } from '../net/ip.js';

/*
 * One Lease per speaker (`barelb-speaker-<node>`): discovery, and what the node announces, published for
 * `barelb status`, Events and people. Not the election: who announces is decided on the LAN, so these
 * Leases are written about nodes / renew interval times a second however many IPs there are.
 */

export const SPEAKER_LEASE_PREFIX = 'barelb-speaker-';

/** Annotations on a speaker's Lease. A user-facing contract (README, "barelb status"). */
export const SPEAKER_LEASE_ANNOTATION = {
  /** The addresses the node answers for, space-separated, sorted. */
  announces: 'barelb.io/announces',
  /** The peers whose heartbeats the node hears, space-separated, sorted. */
  hears: 'barelb.io/hears',
  /** The speaker process's incarnation (its start time in ms): a restart shows as a new value. */
  incarnation: 'barelb.io/incarnation',
  /** The subnets (network/prefix) of the interfaces the node speaks on, space-separated, sorted: which LAN segments it shares. */
  segments: 'barelb.io/segments',
  /** Fingerprints of the heartbeat keys the node accepts, the one it signs with first (never the keys). */
  keys: 'barelb.io/keys',
} as const;

/** The Lease name of `node`'s speaker. Node names are DNS subdomains, so the result is a valid name for up to 238 characters. */
export function speakerLeaseName(node: string): string {
  return `${SPEAKER_LEASE_PREFIX}${node}`;
}

/** What one speaker's Lease says, read back. */
export interface SpeakerLeaseView {
  readonly node: string;
  readonly announces: readonly string[];
  readonly hears: readonly string[];
  /** The subnets of the interfaces it speaks on (network/prefix); empty from a speaker that does not say. */
  readonly segments: readonly string[];
  /** Fingerprints of the heartbeat keys it accepts, its signing key first; undefined from a speaker that does not say. */
  readonly keys: readonly string[] | undefined;
  /** When it was last renewed (ms since the epoch); undefined if the Lease does not say. */
  readonly renewMs: number | undefined;
  readonly durationSeconds: number;
}

/** The annotations a speaker writes for what it announces and hears. */
export function speakerLeaseAnnotations(
  announces: Iterable<string>,
  hears: Iterable<string>,
  incarnation: number,
  segments: Iterable<string> = [],
  keys: readonly string[] = [],
): Record<string, string> {
  return {
    // In order: the signing key first.
    [SPEAKER_LEASE_ANNOTATION.keys]: [...new Set(keys)].join(' '),
    [SPEAKER_LEASE_ANNOTATION.announces]: [...new Set(announces)].sort().join(' '),
    [SPEAKER_LEASE_ANNOTATION.hears]: [...new Set(hears)].sort().join(' '),
    [SPEAKER_LEASE_ANNOTATION.incarnation]: String(incarnation),
    [SPEAKER_LEASE_ANNOTATION.segments]: [...new Set(segments)].sort().join(' '),
  };
}

/** Reads a speaker's Lease; undefined for any other Lease. Malformed addresses are skipped, not believed. */
export function readSpeakerLease(lease: {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: unknown; leaseDurationSeconds?: number };
}): SpeakerLeaseView | undefined {
  const name = lease.metadata?.name ?? '';
  if (!name.startsWith(SPEAKER_LEASE_PREFIX)) return undefined;
  const node = lease.spec?.holderIdentity || name.slice(SPEAKER_LEASE_PREFIX.length);
  const ann = lease.metadata?.annotations ?? {};
  const words = (v: string | undefined): string[] => (v ?? '').split(/\s+/).filter((w) => w !== '');
  const renew = lease.spec?.renewTime;
  // Deserialized objects carry a Date (an Invalid Date for a value it could not parse), raw JSON a string.
  const ms = renew instanceof Date ? renew.getTime() : typeof renew === 'string' ? Date.parse(renew) : NaN;
  const renewMs = Number.isNaN(ms) ? undefined : ms;
  return {
    node,
    announces: words(ann[SPEAKER_LEASE_ANNOTATION.announces]).flatMap((w) => canonicalIp(w) ?? []),
    hears: words(ann[SPEAKER_LEASE_ANNOTATION.hears]),
    segments: words(ann[SPEAKER_LEASE_ANNOTATION.segments]),
    keys: ann[SPEAKER_LEASE_ANNOTATION.keys] === undefined ? undefined : words(ann[SPEAKER_LEASE_ANNOTATION.keys]),
    renewMs,
    durationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
  };
}

/** A speaker Lease renewed within its duration, judged by `nowMs` (an operator's clock, for display only). */
export function isLive(view: SpeakerLeaseView, nowMs: number): boolean {
  return view.renewMs !== undefined && nowMs <= view.renewMs + view.durationSeconds * 1000;
}
