import t from 'tap';
import fc from 'fast-check';
import { MacAddress } from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';
import {
  NDP_DROP_REASONS,
  decodeNdpFrame,
  encodeNeighborAdvertisement,
  encodeNeighborSolicitation,
  encodeSolicitedAdvertisement,
  encodeUnsolicitedAdvertisement,
  isMulticastIpv6,
  solicitedNodeAddress,
  type NdpPacket,
} from '../../src/net/ndp-frame.js';

// Hostile frames for the NDP decoder: encode/decode round trips, every
// single-byte mutation of valid frames, damaged frames with their checksum
// repaired (so the checks after it are reached), random bytes, views into
// shared buffers and input aliasing. Every outcome is compared with an
// independent statement of the rules, read straight off the bytes.
//
// The unit suite runs a few seconds of this. For a long run:
//   BARELB_FUZZ_RUNS=1000000 npx tap --timeout=3600 test/net/ndp-frame.fuzz.test.ts
// (runs per property; the default is 2,000).
const RUNS = Number(process.env['BARELB_FUZZ_RUNS'] ?? 2_000);
/** Per frame; decoding takes microseconds, the slack is for a loaded machine. */
const PER_FRAME_MS = 200;

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => MacAddress.fromBytes(b));
const ip6 = (v: bigint): IpAddress => IpAddress.fromValue('IPv6', v);
/** Unicast (not ff00::/8), weighted towards the shapes that occur: link-local, documentation, ::. */
const unicastArb: fc.Arbitrary<IpAddress> = fc.oneof(
  fc.bigInt({ min: 0n, max: (0xffn << 120n) - 1n }).map(ip6),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => ip6((0xfe80n << 112n) | v)),
  fc.bigInt({ min: 0n, max: (1n << 96n) - 1n }).map((v) => ip6((0x20010db8n << 96n) | v)),
  fc.constant(ip6(1n)),
);
const anyIpArb: fc.Arbitrary<IpAddress> = fc.oneof(unicastArb, fc.bigInt({ min: 0xffn << 120n, max: (1n << 128n) - 1n }).map(ip6));
const vlanArb = fc.option(fc.nat({ max: 4095 }), { nil: undefined });
const withVlan = (vlan: number | undefined): { vlan?: number } => (vlan === undefined ? {} : { vlan });

/** Decodes, failing on a slow frame (a throw fails the property by itself). */
function decodeTimed(f: Uint8Array): ReturnType<typeof decodeNdpFrame> {
  const started = performance.now();
  const r = decodeNdpFrame(f);
  const ms = performance.now() - started;
  if (ms > PER_FRAME_MS) throw new Error(`decoding ${f.length} bytes took ${ms.toFixed(1)} ms`);
  return r;
}

// ---------------------------------------------------------------------------
// the rules, independently

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** RFC 1071 over the RFC 8200 8.1 pseudo-header; 0 when the message carries a correct checksum. */
function refChecksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  const all = [...src, ...dst, 0, 0, message.length >> 8, message.length & 0xff, 0, 0, 0, 58, ...message];
  if (all.length % 2) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += (all[i] as number) * 256 + (all[i + 1] as number);
  while (sum > 0xffff) sum = Math.floor(sum / 65536) + (sum % 65536);
  return 0xffff - sum;
}

/** Where the IPv6 header starts, if the frame is IPv6 behind at most one 802.1Q tag. */
function ipOffset(f: Uint8Array): number | undefined {
  const w = (i: number): number => ((f[i] ?? -1) << 8) | (f[i + 1] ?? -1);
  if (w(12) === 0x86dd) return 14;
  if (w(12) === 0x8100 && w(16) === 0x86dd) return 18;
  return undefined;
}

/** Rewrites the ICMPv6 checksum of a damaged frame, where its payload is all there, so later checks are reached. */
function repairChecksum(f: Uint8Array): void {
  const ip = ipOffset(f);
  if (ip === undefined || f.length < ip + 40) return;
  const len = ((f[ip + 4] as number) << 8) | (f[ip + 5] as number);
  const m = ip + 40;
  if (len < 4 || f.length < m + len) return;
  f[m + 2] = f[m + 3] = 0;
  const sum = refChecksum(f.subarray(ip + 8, ip + 24), f.subarray(ip + 24, ip + 40), f.subarray(m, m + len));
  f[m + 2] = sum >> 8;
  f[m + 3] = sum & 0xff;
}

/** The outcome as a string: a drop reason, or the fields of the packet. */
function expected(f: Uint8Array): string {
  const b = (i: number): number => f[i] ?? -1;
  const w = (i: number): number => (b(i) << 8) | b(i + 1);
  if (f.length < 14) return 'truncated';
  let ip = 14;
  let vlan = '-';
  if (w(12) === 0x8100) {
    if (f.length < 18) return 'truncated';
    ip = 18;
    vlan = String(w(14) & 0xfff);
  }
  if (w(ip - 2) !== 0x86dd) return 'not-ipv6';
  if (f.length < ip + 40) return 'truncated';
  if (b(ip) >> 4 !== 6) return 'bad-ip-version';
  const nh = b(ip + 6);
  if (nh !== 58) return [0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254].includes(nh) ? 'extension-header' : 'not-icmpv6';
  const len = w(ip + 4);
  const m = ip + 40;
  if (f.length < m + len) return 'truncated';
  if (len < 4) return 'bad-length';
  const type = b(m);
  if (type !== 135 && type !== 136) return 'not-ndp';
  if (b(ip + 7) !== 255) return 'bad-hop-limit';
  if (b(m + 1) !== 0) return 'bad-code';
  if (len < 24) return 'bad-length';
  const src = f.subarray(ip + 8, ip + 24);
  const dst = f.subarray(ip + 24, ip + 40);
  if (refChecksum(src, dst, f.subarray(m, m + len)) !== 0) return 'bad-checksum';
  if (src[0] === 0xff) return 'multicast-source';
  if (b(m + 8) === 0xff) return 'multicast-target';
  const options: { type: number; bytes: Uint8Array }[] = [];
  let o = m + 24;
  while (o < m + len) {
    const size = o + 1 < m + len ? b(o + 1) * 8 : 0;
    if (size === 0 || o + size > m + len) return 'bad-option';
    options.push({ type: b(o), bytes: f.subarray(o, o + size) });
    o += size;
  }
  const lla = options.filter((x) => x.type === (type === 135 ? 1 : 2));
  if (lla.some((x) => x.bytes.length !== 8)) return 'bad-link-address-option';
  const linkAddress = lla[0] ? hexOf(lla[0].bytes.subarray(2)) : '-';
  const fromUnspecified = src.every((x) => x === 0);
  if (type === 135 && fromUnspecified && hexOf(dst.subarray(0, 13)) !== 'ff0200000000000000000001ff') return 'dad-bad-destination';
  if (type === 135 && fromUnspecified && lla.length > 0) return 'dad-with-link-address';
  const flags = b(m + 4);
  if (type === 136 && flags & 0x40 && dst[0] === 0xff) return 'solicited-multicast';
  const rso = type === 136 ? `${(flags >> 7) & 1}${(flags >> 6) & 1}${(flags >> 5) & 1}` : '-';
  return [type === 135 ? 'solicitation' : 'advertisement', hexOf(f.subarray(6, 12)), hexOf(f.subarray(0, 6)), vlan, hexOf(src), hexOf(dst), hexOf(f.subarray(m + 8, m + 24)), linkAddress, rso].join('|');
}

const macHex = (m: MacAddress): string => m.toString().replaceAll(':', '');
const ipHex = (a: IpAddress): string => a.value.toString(16).padStart(32, '0');

/** The decoder's outcome in the same form as expected(). */
function outcome(f: Uint8Array): string {
  const r = decodeTimed(f);
  if (!r.ok) {
    if (!(NDP_DROP_REASONS as readonly string[]).includes(r.reason)) throw new Error(`unlisted reason ${r.reason}`);
    return r.reason;
  }
  const p = r.packet;
  if (p.srcIp.family !== 'IPv6' || p.dstIp.family !== 'IPv6' || p.target.family !== 'IPv6') throw new Error('not IPv6');
  const lla = p.kind === 'solicitation' ? p.sourceLinkAddress : p.targetLinkAddress;
  const rso = p.kind === 'advertisement' ? [p.router, p.solicited, p.override].map(Number).join('') : '-';
  return [p.kind, macHex(p.srcMac), macHex(p.dstMac), p.vlan ?? '-', ipHex(p.srcIp), ipHex(p.dstIp), ipHex(p.target), lla ? macHex(lla) : '-', rso].join('|');
}

// ---------------------------------------------------------------------------
// round trips

t.test('round trip: advertisements, solicited or not, decode to what was encoded (property)', async (t) => {
  fc.assert(
    fc.property(macArb, unicastArb, macArb, anyIpArb, fc.boolean(), fc.boolean(), vlanArb, (local, target, dstMac, dstIp, s, override, vlan) => {
      const solicited = s && !isMulticastIpv6(dstIp);
      const out = encodeNeighborAdvertisement({ localMac: local, target, dstMac, dstIp, solicited, override, ...withVlan(vlan) });
      const want = ['advertisement', macHex(local), macHex(dstMac), vlan ?? '-', ipHex(target), ipHex(dstIp), ipHex(target), macHex(local), `0${Number(solicited)}${Number(override)}`].join('|');
      return out.length === (vlan === undefined ? 86 : 90) && outcome(out) === want && expected(out) === want;
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(macArb, unicastArb, vlanArb, (local, target, vlan) => {
      const r = decodeTimed(encodeUnsolicitedAdvertisement({ localMac: local, target, ...withVlan(vlan) }));
      return r.ok && r.packet.kind === 'advertisement' && !r.packet.solicited && r.packet.override && r.packet.dstIp.toString() === 'ff02::1' && r.packet.vlan === vlan;
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} advertisements of each kind round-tripped`);
});

t.test('round trip: solicitations decode to what was encoded, and their answers to what RFC 4861 7.2.4 says (property)', async (t) => {
  fc.assert(
    fc.property(macArb, fc.oneof(unicastArb, fc.constant(ip6(0n))), unicastArb, vlanArb, macArb, (peer, srcIp, target, vlan, local) => {
      const dad = srcIp.value === 0n;
      const ns = encodeNeighborSolicitation({ localMac: peer, srcIp, target, ...withVlan(vlan) });
      const group = solicitedNodeAddress(target);
      const want = ['solicitation', macHex(peer), `3333${ipHex(group).slice(24)}`, vlan ?? '-', ipHex(srcIp), ipHex(group), ipHex(target), dad ? '-' : macHex(peer), '-'].join('|');
      if (outcome(ns) !== want || expected(ns) !== want || ns.length !== (dad ? 78 : 86) + (vlan === undefined ? 0 : 4)) return false;
      const r = decodeTimed(ns);
      if (!r.ok || r.packet.kind !== 'solicitation') return false;
      const answer = encodeSolicitedAdvertisement({ localMac: local, solicitation: r.packet });
      const a = decodeTimed(answer);
      if (!a.ok || a.packet.kind !== 'advertisement') return false;
      const p = a.packet;
      return (
        p.vlan === vlan && p.srcMac.equals(local) && p.targetLinkAddress?.equals(local) === true &&
        p.srcIp.equals(target) && p.target.equals(target) && !p.router && p.override &&
        (dad
          ? !p.solicited && p.dstIp.toString() === 'ff02::1' && p.dstMac.toString() === '33:33:00:00:00:01'
          : p.solicited && p.dstIp.equals(srcIp) && p.dstMac.equals(peer))
      );
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} solicitations and their answers round-tripped`);
});

// ---------------------------------------------------------------------------
// mutations

/** Valid frames of every shape the encoders make. */
const encodedFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(macArb, unicastArb, macArb, unicastArb, fc.boolean(), vlanArb).map(([localMac, target, dstMac, dstIp, solicited, vlan]) =>
    encodeNeighborAdvertisement({ localMac, target, dstMac, dstIp, solicited, override: true, ...withVlan(vlan) }),
  ),
  fc.tuple(macArb, unicastArb, vlanArb).map(([localMac, target, vlan]) => encodeUnsolicitedAdvertisement({ localMac, target, ...withVlan(vlan) })),
  fc.tuple(macArb, fc.oneof(unicastArb, fc.constant(ip6(0n))), unicastArb, vlanArb).map(([localMac, srcIp, target, vlan]) =>
    encodeNeighborSolicitation({ localMac, srcIp, target, ...withVlan(vlan) }),
  ),
);

/** Byte values that turn one check into another. */
const interestingByte = fc.oneof(fc.nat(255), fc.constantFrom(0, 1, 2, 3, 6, 17, 43, 58, 0x20, 0x40, 0x60, 0x80, 0x81, 0x86, 0xdd, 135, 136, 128, 254, 255));

/** Offsets of the fields the rules read, for frames tagged or not. */
function keyOffsets(f: Uint8Array): number[] {
  const ip = ipOffset(f) ?? 14;
  const m = ip + 40;
  return [12, 13, 16, 17, ip, ip + 4, ip + 5, ip + 6, ip + 7, ip + 8, ip + 23, ip + 24, m, m + 1, m + 2, m + 4, m + 8, m + 24, m + 25].filter((o) => o < f.length);
}

t.test('every single-byte mutation of a valid frame decodes as the rules say, never throws (property)', async (t) => {
  const reasons = new Set<string>();
  for (const repair of [false, true]) {
    fc.assert(
      fc.property(encodedFrame, fc.nat(), fc.boolean(), interestingByte, (f, at, key, value) => {
        const offsets = keyOffsets(f);
        const i = key ? (offsets[at % offsets.length] as number) : at % f.length;
        const m = Uint8Array.from(f);
        m[i] = value;
        if (repair) repairChecksum(m);
        const got = outcome(m);
        reasons.add(got.includes('|') ? 'ok' : got);
        return got === expected(m);
      }),
      { numRuns: RUNS },
    );
  }
  t.ok(reasons.has('ok') && reasons.has('bad-checksum') && reasons.size >= 10, `single mutations reached ${[...reasons].sort().join(', ')}`);
});

/** Hand-built frames with the options the encoders never write, to mutate. */
function withOptions(options: number[][], na: boolean, srcIp: IpAddress, vlan?: number): Uint8Array {
  const local = MacAddress.parse('02:00:00:00:00:01');
  const target = IpAddress.parse('2001:db8::7');
  const base = na
    ? encodeNeighborAdvertisement({ localMac: local, target, dstMac: local, dstIp: IpAddress.parse('ff02::1'), solicited: false, override: true, ...withVlan(vlan) })
    : encodeNeighborSolicitation({ localMac: local, srcIp, target, ...withVlan(vlan) });
  const ip = vlan === undefined ? 14 : 18;
  const body = base.subarray(0, ip + 40 + 24);
  const f = Uint8Array.from([...body, ...options.flat()]);
  const len = 24 + options.flat().length;
  f[ip + 4] = len >> 8;
  f[ip + 5] = len & 0xff;
  repairChecksum(f);
  return f;
}

/** Edits known to move a frame from one check to another: [offset from the ICMPv6 header (negative: into the IPv6 header), value]. */
const TARGETED: readonly [number, number][] = [
  [-40 + 8, 0xff], // source multicast
  [-40 + 24, 0x20], // destination no longer multicast (DAD) or a solicited NA now unicast
  [8, 0xff], // target multicast
  [4, 0x40], // Solicited
  [4, 0x00],
  [24, 1], // first option becomes a Source LLA option
  [24, 2], // ... or a Target LLA one
  [25, 2], // first option two units long
  [25, 0],
  [32, 1], // second option becomes a Source LLA option
  [33, 2],
  [1, 1], // code
];

t.test('damaged frames (several bytes, cuts, trailers, repaired checksums) decode as the rules say and reach every outcome (property)', async (t) => {
  const nonce = [14, 1, 1, 2, 3, 4, 5, 6];
  const sllaOf = (type: number): number[] => [type, 1, 2, 0, 0, 0, 0, 9];
  const seeds = [
    encodeNeighborSolicitation({ localMac: MacAddress.parse('52:54:00:12:34:56'), srcIp: IpAddress.parse('fe80::1'), target: IpAddress.parse('2001:db8::7') }),
    encodeNeighborSolicitation({ localMac: MacAddress.parse('52:54:00:12:34:56'), srcIp: IpAddress.parse('::'), target: IpAddress.parse('2001:db8::7'), vlan: 5 }),
    encodeSolicitedAdvertisement({
      localMac: MacAddress.parse('02:00:00:00:00:01'),
      solicitation: { kind: 'solicitation', srcMac: MacAddress.parse('52:54:00:12:34:56'), dstMac: MacAddress.parse('33:33:ff:00:00:07'), srcIp: IpAddress.parse('2001:db8::1'), dstIp: IpAddress.parse('ff02::1:ff00:7'), target: IpAddress.parse('2001:db8::7') },
    }),
    encodeUnsolicitedAdvertisement({ localMac: MacAddress.parse('02:00:00:00:00:01'), target: IpAddress.parse('2001:db8::7'), vlan: 7 }),
    withOptions([nonce], false, ip6(0n)),
    withOptions([sllaOf(2), nonce], true, ip6(0n)),
    withOptions([sllaOf(1), sllaOf(1), nonce], false, IpAddress.parse('2001:db8::1'), 9),
    withOptions([[2, 2, ...new Array<number>(14).fill(0)]], true, ip6(0n)),
  ];
  const reasons = new Set<string>();
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }), interestingByte), { maxLength: 3 }),
      // mostly whole: a cut frame is truncated before anything else is judged
      fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: fc.nat(110), weight: 1 }),
      fc.uint8Array({ maxLength: 12 }),
      fc.boolean(),
      fc.option(fc.nat(TARGETED.length - 1), { nil: undefined, freq: 2 }),
      (which, flips, cut, tail, repair, targeted) => {
        const seed = seeds[which] as Uint8Array;
        let f = Uint8Array.from(seed);
        for (const [at, key, value] of flips) {
          const offsets = keyOffsets(f);
          f[key ? (offsets[at % offsets.length] as number) : at % f.length] = value;
        }
        if (targeted !== undefined) {
          const [field, value] = TARGETED[targeted] as [number, number];
          const m = (ipOffset(f) ?? 14) + 40;
          if (m + field < f.length) f[m + field] = value;
        }
        f = cut === undefined ? Uint8Array.from([...f, ...tail]) : f.slice(0, cut);
        if (repair) repairChecksum(f);
        const got = outcome(f);
        reasons.add(got.includes('|') ? 'ok' : got);
        return got === expected(f);
      },
    ),
    { numRuns: RUNS * 3 },
  );
  t.same([...NDP_DROP_REASONS, 'ok'].filter((r) => !reasons.has(r)), [], `every outcome was reached (${[...reasons].sort().join(', ')})`);
});

t.test('random bytes, bare or behind a plausible Ethernet/IPv6/ICMPv6 prefix, decode as the rules say (property)', async (t) => {
  let accepted = 0;
  const prefix = fc
    .tuple(fc.boolean(), fc.constantFrom(58, 58, 58, 0, 6), fc.constantFrom(135, 136, 128), fc.nat(40), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 48 }), fc.boolean())
    .map(([tagged, nh, type, extra, addrs, rest, repair]) => {
      const tag = tagged ? [0x81, 0x00, 0x00, 0x2a] : [];
      const options = [...rest];
      const len = 24 + Math.min(extra, options.length);
      const f = Uint8Array.from([...new Array<number>(12).fill(0x02), ...tag, 0x86, 0xdd, 0x60, 0, 0, 0, len >> 8, len & 0xff, nh, 255, ...addrs, type, 0, 0, 0, 0, 0, 0, 0, ...addrs.subarray(0, 16), ...options]);
      if (repair) repairChecksum(f);
      return f;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 120, size: 'max' }), prefix), (f) => {
      const got = outcome(f);
      if (got.includes('|')) accepted++;
      return got === expected(f);
    }),
    { numRuns: RUNS * 3 },
  );
  t.ok(accepted > 0, `some random frames were valid NDP (${accepted})`);
});

// ---------------------------------------------------------------------------
// buffers

function samePacket(a: NdpPacket, b: NdpPacket): boolean {
  const key = (p: NdpPacket): string => JSON.stringify(p, (_k, v: unknown) => (v instanceof MacAddress ? v.toString() : v instanceof IpAddress ? v.toString() : v));
  return key(a) === key(b);
}

t.test('frames as views: offsets into shared buffers, Buffers, jumbo frames decode by their own bytes only (property)', async (t) => {
  fc.assert(
    fc.property(encodedFrame, fc.nat(64), fc.nat(9_000), fc.uint8Array({ maxLength: 16 }), fc.boolean(), (f, before, after, fill, asBuffer) => {
      const big = new Uint8Array(before + f.length + after + 64);
      for (let i = 0; i < big.length; i++) big[i] = fill.length ? (fill[i % fill.length] as number) : 0xa5;
      big.set(f, before);
      const view = asBuffer ? Buffer.from(big.buffer, before, f.length + after) : big.subarray(before, before + f.length + after);
      const direct = decodeTimed(f);
      const viewed = decodeTimed(view);
      if (!direct.ok || !viewed.ok || !samePacket(direct.packet, viewed.packet)) return false;
      // Cut the view short of the payload: the bytes beyond it (present in the buffer) must not be read.
      const short = decodeTimed(big.subarray(before, before + f.length - 1 - (f.length % 7)));
      return !short.ok && short.reason === 'truncated';
    }),
    { numRuns: RUNS / 2 },
  );
  const huge = new Uint8Array(65_536).fill(0xff);
  huge.set(encodeUnsolicitedAdvertisement({ localMac: MacAddress.parse('02:00:00:00:00:01'), target: IpAddress.parse('2001:db8::1') }));
  t.ok(decodeTimed(huge).ok, 'a 64 KiB frame decodes from its first bytes');
  t.same(decodeTimed(new Uint8Array(65_536)), { ok: false, reason: 'not-ipv6' }, '64 KiB of zeros is not IPv6');
  const maxPayload = new Uint8Array(14 + 40 + 0xffff);
  maxPayload.set([0x86, 0xdd, 0x60, 0, 0, 0, 0xff, 0xff, 58, 255], 12);
  maxPayload[54] = 135;
  t.same(decodeTimed(maxPayload), { ok: false, reason: 'bad-checksum' }, 'a 64 KiB payload is summed in time');
});

t.test('a decoded packet does not alias the frame: reusing the receive buffer cannot change it (property)', async (t) => {
  fc.assert(
    fc.property(encodedFrame, fc.uint8Array({ minLength: 90, maxLength: 90 }), (f, junk) => {
      const buf = Uint8Array.from(f);
      const r = decodeTimed(buf);
      if (!r.ok) return false;
      const before = JSON.stringify(r.packet, (_k, v: unknown) => (v instanceof MacAddress || v instanceof IpAddress ? v.toString() : v));
      buf.set(junk.subarray(0, buf.length));
      r.packet.srcMac.bytes.fill(0);
      const after = JSON.stringify(r.packet, (_k, v: unknown) => (v instanceof MacAddress || v instanceof IpAddress ? v.toString() : v));
      return before === after;
    }),
    { numRuns: RUNS / 2 },
  );
  t.pass('no aliasing');
});

