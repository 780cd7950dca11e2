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
  /** Interfaces where the node hears no heartbeats while other speakers' Leases are live: `eth0=deaf`, `eth1=cut-off`. */
  unheard: 'barelb.io/heartbeats-unheard',
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
  /** Interfaces where it hears no heartbeats while other speakers' Leases are live, and what it made of it; absent: none. */
  readonly unheard?: readonly UnheardInterface[];
  /** When it was last renewed (ms since the epoch); undefined if the Lease does not say. */
  readonly renewMs: number | undefined;
  readonly durationSeconds: number;
}

export interface UnheardInterface {
  readonly ifname: string;
  /** lanView's verdict: deaf (nobody hears anyone: the Leases decide) or cut-off (the others hear each other). */
  readonly mode: 'deaf' | 'cut-off';
}

/** What a speaker publishes in its Lease besides its incarnation. */
export interface SpeakerLeaseRecord {
  readonly announces: Iterable<string>;
  readonly hears: Iterable<string>;
  readonly segments?: Iterable<string>;
  /** In order: the signing key first. */
  readonly keys?: readonly string[];
  readonly unheard?: readonly UnheardInterface[];
}

/** The annotations a speaker writes for what it announces, hears, speaks on and signs with. */
export function speakerLeaseAnnotations(record: SpeakerLeaseRecord, incarnation: number): Record<string, string> {
  return {
    [SPEAKER_LEASE_ANNOTATION.keys]: [...new Set(record.keys ?? [])].join(' '),
    [SPEAKER_LEASE_ANNOTATION.announces]: [...new Set(record.announces)].sort().join(' '),
    [SPEAKER_LEASE_ANNOTATION.hears]: [...new Set(record.hears)].sort().join(' '),
    [SPEAKER_LEASE_ANNOTATION.incarnation]: String(incarnation),
    [SPEAKER_LEASE_ANNOTATION.segments]: [...new Set(record.segments ?? [])].sort().join(' '),
    [SPEAKER_LEASE_ANNOTATION.unheard]: (record.unheard ?? []).map((u) => `${u.ifname}=${u.mode}`).sort().join(' '),
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
    ...unheardOf(words(ann[SPEAKER_LEASE_ANNOTATION.unheard])),
    renewMs,
    durationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
  };
}

function unheardOf(entries: readonly string[]): { unheard?: UnheardInterface[] } {
  const unheard = entries.flatMap((e): UnheardInterface[] => {
    const [ifname, mode] = e.split('=');
    return ifname && (mode === 'deaf' || mode === 'cut-off') ? [{ ifname, mode }] : [];
  });
  return unheard.length ? { unheard } : {};
}

/** A speaker Lease renewed within its duration, judged by `nowMs` (an operator's clock, for display only). */
export function isLive(view: SpeakerLeaseView, nowMs: number): boolean {
  return view.renewMs !== undefined && nowMs <= view.renewMs + view.durationSeconds * 1000;
}
