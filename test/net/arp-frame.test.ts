import t from 'tap';
import fc from 'fast-check';
import {
  DROP_REASONS,
  InvalidMacError,
  MacAddress,
  NotIpv4Error,
  classifyArp,
  decodeArpFrame,
  encodeArpReply,
  encodeGratuitousArp,
  type ArpPacket,
  type DropReason,
} from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';

// ---------------------------------------------------------------------------
// a frame builder independent of the codec: plain byte arrays

interface FrameSpec {
  dst?: string;
  src?: string;
  /** a full 16-bit TCI; undefined: untagged */
  tci?: number;
  /** outer ethertype when tci is given (default 0x8100) */
  tpid?: number;
  ethertype?: number;
  htype?: number;
  ptype?: number;
  hlen?: number;
  plen?: number;
  op?: number;
  sha?: string;
  spa?: string;
  tha?: string;
  tpa?: string;
  /** keep only this many bytes */
  cut?: number;
  /** pad to 60 bytes (default) or not */
  pad?: boolean;
}

const macBytes = (m: string): number[] => m.split(':').map((h) => parseInt(h, 16));
const ipBytes = (ip: string): number[] => ip.split('.').map(Number);
const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];

function frame(s: FrameSpec = {}): Uint8Array {
  const bytes = [...macBytes(s.dst ?? 'ff:ff:ff:ff:ff:ff'), ...macBytes(s.src ?? '02:00:00:00:00:01')];
  if (s.tci !== undefined) bytes.push(...be16(s.tpid ?? 0x8100), ...be16(s.tci));
  bytes.push(...be16(s.ethertype ?? 0x0806));
  bytes.push(...be16(s.htype ?? 1), ...be16(s.ptype ?? 0x0800), s.hlen ?? 6, s.plen ?? 4, ...be16(s.op ?? 1));
  bytes.push(...macBytes(s.sha ?? '02:00:00:00:00:01'), ...ipBytes(s.spa ?? '192.0.2.1'));
  bytes.push(...macBytes(s.tha ?? '00:00:00:00:00:00'), ...ipBytes(s.tpa ?? '192.0.2.10'));
  if (s.pad ?? true) while (bytes.length < 60) bytes.push(0);
  return Uint8Array.from(s.cut === undefined ? bytes : bytes.slice(0, s.cut));
}

const ip = (s: string): IpAddress => IpAddress.parse(s);
const mac = (s: string): MacAddress => MacAddress.parse(s);

/** The assertions helpers need; every subtest has them. */
type Asserts = Pick<typeof t, 'fail'>;

function decoded(t: Asserts, f: Uint8Array): ArpPacket | undefined {
  const r = decodeArpFrame(f);
  if (!r.ok) {
    t.fail(`expected a packet, dropped as ${r.reason}`);
    return undefined;
  }
  return r.packet;
}

// ---------------------------------------------------------------------------
// MacAddress

t.test('MacAddress parses, prints and compares', async (t) => {
  const m = MacAddress.parse('AA:bb:0C:dd:ee:0F');
  t.equal(m.toString(), 'aa:bb:0c:dd:ee:0f');
  t.ok(m.equals(MacAddress.parse('aa:bb:0c:dd:ee:0f')));
  t.notOk(m.equals(MacAddress.parse('aa:bb:0c:dd:ee:0e')));
  t.same([...m.bytes], [0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0x0f]);
  t.equal(MacAddress.BROADCAST.toString(), 'ff:ff:ff:ff:ff:ff');
  t.equal(MacAddress.ZERO.toString(), '00:00:00:00:00:00');
  t.ok(MacAddress.BROADCAST.isMulticast);
  t.ok(MacAddress.parse('01:00:5e:00:00:01').isMulticast);
  t.notOk(m.isMulticast);
  t.equal(MacAddress.tryParse('nope'), undefined);
});

t.test('MacAddress rejects what is not six colon-separated hex pairs', async (t) => {
  for (const bad of ['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa-bb-cc-dd-ee-ff', 'aabb.ccdd.eeff', 'a:bb:cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:fff']) {
    t.throws(() => MacAddress.parse(bad), InvalidMacError, JSON.stringify(bad));
  }
  t.equal(new InvalidMacError('x').code, 'BARELB_INVALID_MAC');
  t.throws(() => MacAddress.fromBytes(new Uint8Array(5)), InvalidMacError);
  t.throws(() => MacAddress.fromBytes(new Uint8Array(7)), InvalidMacError);
});

t.test('MacAddress is immutable: bytes in and out are copies', async (t) => {
  const src = Uint8Array.from([2, 0, 0, 0, 0, 1]);
  const m = MacAddress.fromBytes(src);
  src[5] = 9;
  t.equal(m.toString(), '02:00:00:00:00:01', 'changing the input does not change the address');
  const out = m.bytes;
  out[0] = 0xff;
  t.equal(m.toString(), '02:00:00:00:00:01', 'changing the output does not change the address');
});

// ---------------------------------------------------------------------------
// decode

t.test('decodes requests and replies', async (t) => {
  const req = decoded(t, frame({ src: '02:aa:00:00:00:01', sha: '02:aa:00:00:00:01', spa: '192.0.2.1', tpa: '192.0.2.10' }));
  if (req) {
    t.equal(req.operation, 'request');
    t.equal(req.ethDestination.toString(), 'ff:ff:ff:ff:ff:ff');
    t.equal(req.ethSource.toString(), '02:aa:00:00:00:01');
    t.equal(req.vlan, undefined);
    t.notOk('vlan' in req, 'no vlan key on untagged frames');
    t.equal(req.senderMac.toString(), '02:aa:00:00:00:01');
    t.equal(req.senderIp.toString(), '192.0.2.1');
    t.equal(req.senderIp.family, 'IPv4');
    t.equal(req.targetMac.toString(), '00:00:00:00:00:00');
    t.equal(req.targetIp.toString(), '192.0.2.10');
  }
  const rep = decoded(t, frame({ op: 2, dst: '02:00:00:00:00:09', tha: '02:00:00:00:00:09', spa: '255.255.255.254', tpa: '0.0.0.1' }));
  if (rep) {
    t.equal(rep.operation, 'reply');
    t.equal(rep.targetMac.toString(), '02:00:00:00:00:09');
    t.equal(rep.senderIp.toString(), '255.255.255.254');
    t.equal(rep.targetIp.toString(), '0.0.0.1');
  }
});

t.test('reads the VLAN id of a single 802.1Q tag, ignoring priority and DEI bits', async (t) => {
  const rows: [tci: number, vlan: number][] = [
    [42, 42],
    [0xe000 | 42, 42],
    [0x1000 | 4094, 4094],
    [0, 0],
    [0xffff, 4095],
  ];
  for (const [tci, vlan] of rows) {
    const p = decoded(t, frame({ tci }));
    t.equal(p?.vlan, vlan, `tci 0x${tci.toString(16)}`);
    t.equal(p?.targetIp.toString(), '192.0.2.10', 'the ARP body is read after the tag');
  }
});

t.test('accepts short (unpadded) and long (trailing bytes) frames', async (t) => {
  t.ok(decodeArpFrame(frame({ pad: false })).ok, '42 bytes: padding is not required');
  t.ok(decodeArpFrame(frame({ tci: 7, pad: false })).ok, '46 bytes tagged');
  const long = new Uint8Array(1514);
  long.set(frame());
  long.fill(0xee, 60);
  t.ok(decodeArpFrame(long).ok, 'trailing bytes are ignored');
  const buf = new Uint8Array(100);
  buf.set(frame(), 20);
  const p = decoded(t, buf.subarray(20, 80));
  t.equal(p?.targetIp.toString(), '192.0.2.10', 'a view into a larger buffer decodes by its own offsets');
});

t.test('drops every malformed frame with the reason', async (t) => {
  const rows: [what: string, f: Uint8Array, reason: DropReason][] = [
    ['empty', new Uint8Array(0), 'truncated'],
    ['shorter than an Ethernet header', frame({ cut: 13 }), 'truncated'],
    ['Ethernet header only', frame({ cut: 14 }), 'truncated'],
    ['cut in the VLAN tag', frame({ tci: 5, cut: 16 }), 'truncated'],
    ['cut after the VLAN tag', frame({ tci: 5, cut: 18 }), 'truncated'],
    ['cut in the ARP fixed header', frame({ cut: 21 }), 'truncated'],
    ['cut in the addresses', frame({ pad: false, cut: 41 }), 'truncated'],
    ['tagged, cut in the addresses', frame({ tci: 5, pad: false, cut: 45 }), 'truncated'],
    ['IPv4', frame({ ethertype: 0x0800 }), 'not-arp'],
    ['IPv6', frame({ ethertype: 0x86dd }), 'not-arp'],
    ['RARP', frame({ ethertype: 0x8035 }), 'not-arp'],
    ['an 802.3 length field', frame({ ethertype: 0x002e }), 'not-arp'],
    ['tagged IPv4', frame({ tci: 5, ethertype: 0x0800 }), 'not-arp'],
    ['802.1ad outer tag', frame({ tci: 5, tpid: 0x88a8 }), 'not-arp'],
    ['two 802.1Q tags (QinQ)', frame({ tci: 5, ethertype: 0x8100 }), 'not-arp'],
    ['not-ARP even when too short for ARP', frame({ ethertype: 0x0800, cut: 14 }), 'not-arp'],
    ['IEEE 802 hardware', frame({ htype: 6 }), 'bad-hardware-type'],
    ['hardware type 0', frame({ htype: 0 }), 'bad-hardware-type'],
    ['tagged, bad hardware type', frame({ tci: 9, htype: 0x0100 }), 'bad-hardware-type'],
    ['IPv6 protocol', frame({ ptype: 0x86dd }), 'bad-protocol-type'],
    ['hlen 8', frame({ hlen: 8 }), 'bad-lengths'],
    ['plen 16', frame({ plen: 16 }), 'bad-lengths'],
    ['hlen 0', frame({ hlen: 0 }), 'bad-lengths'],
    ['opcode 0', frame({ op: 0 }), 'bad-opcode'],
    ['opcode 3 (RARP request)', frame({ op: 3 }), 'bad-opcode'],
    ['opcode 8 (InARP)', frame({ op: 8 }), 'bad-opcode'],
    ['opcode 0x0101', frame({ op: 0x0101 }), 'bad-opcode'],
    ['bad header checked before length', frame({ op: 9, pad: false, cut: 30 }), 'bad-opcode'],
  ];
  for (const [what, f, reason] of rows) {
    t.same(decodeArpFrame(f), { ok: false, reason }, what);
  }
  const seen = new Set(rows.map((r) => r[2]));
  t.same([...DROP_REASONS].filter((r) => !seen.has(r)), [], 'every drop reason has a row');
});

t.test('classifies requests, replies, gratuitous ARP and probes', async (t) => {
  const rows: [what: string, spec: FrameSpec, kind: ReturnType<typeof classifyArp>][] = [
    ['who-has', { op: 1, spa: '192.0.2.1', tpa: '192.0.2.10' }, 'request'],
    ['is-at', { op: 2, spa: '192.0.2.10', tpa: '192.0.2.1' }, 'reply'],
    ['gratuitous request', { op: 1, spa: '192.0.2.10', tpa: '192.0.2.10' }, 'gratuitous'],
    ['gratuitous reply', { op: 2, spa: '192.0.2.10', tpa: '192.0.2.10', tha: '02:00:00:00:00:01' }, 'gratuitous'],
    ['probe (RFC 5227)', { op: 1, spa: '0.0.0.0', tpa: '192.0.2.10' }, 'probe'],
    ['probe for 0.0.0.0 is still a probe', { op: 1, spa: '0.0.0.0', tpa: '0.0.0.0' }, 'probe'],
    ['a reply from 0.0.0.0', { op: 2, spa: '0.0.0.0', tpa: '192.0.2.1' }, 'probe'],
  ];
  for (const [what, spec, kind] of rows) {
    const p = decoded(t, frame(spec));
    if (p) t.equal(classifyArp(p), kind, what);
  }
});

// ---------------------------------------------------------------------------
// encode

const LOCAL = '02:42:ac:11:00:02';
const VIP = '198.51.100.7';

t.test('a reply answers the requester, from the local MAC, 60 bytes', async (t) => {
  const req = decoded(t, frame({ src: '52:54:00:12:34:56', sha: '52:54:00:12:34:56', spa: '198.51.100.1', tpa: VIP }));
  if (!req) return;
  const out = encodeArpReply({ localMac: mac(LOCAL), vip: ip(VIP), request: req });
  t.equal(out.length, 60);
  t.same([...out.subarray(42)], new Array(18).fill(0), 'zero padding');
  t.same(
    [...out.subarray(0, 42)],
    [...frame({ dst: '52:54:00:12:34:56', src: LOCAL, op: 2, sha: LOCAL, spa: VIP, tha: '52:54:00:12:34:56', tpa: '198.51.100.1', pad: false })],
    'byte for byte',
  );
  const rep = decoded(t, out);
  if (!rep) return;
  t.equal(rep.operation, 'reply');
  t.equal(rep.ethDestination.toString(), '52:54:00:12:34:56');
  t.equal(rep.ethSource.toString(), LOCAL);
  t.equal(rep.senderMac.toString(), LOCAL);
  t.equal(rep.senderIp.toString(), VIP);
  t.equal(rep.targetMac.toString(), '52:54:00:12:34:56');
  t.equal(rep.targetIp.toString(), '198.51.100.1');
  t.equal(classifyArp(rep), 'reply');
});

t.test('a reply keeps the VLAN id of a tagged request (64 bytes)', async (t) => {
  const req = decoded(t, frame({ tci: 0xa000 | 300, tpa: VIP }));
  if (!req) return;
  const out = encodeArpReply({ localMac: mac(LOCAL), vip: ip(VIP), request: req });
  t.equal(out.length, 64);
  t.same([...out.subarray(12, 18)], [0x81, 0x00, 0x01, 0x2c, 0x08, 0x06], 'tag with VLAN 300, priority 0, then ARP');
  const rep = decoded(t, out);
  t.equal(rep?.vlan, 300);
  t.equal(rep?.senderIp.toString(), VIP);
  t.same([...out.subarray(46)], new Array(18).fill(0), 'zero padding');
});

t.test('a reply to a probe goes to the prober with target IP 0.0.0.0', async (t) => {
  const probe = decoded(t, frame({ spa: '0.0.0.0', tpa: VIP, sha: '02:00:00:00:00:77', src: '02:00:00:00:00:77' }));
  if (!probe) return;
  const rep = decoded(t, encodeArpReply({ localMac: mac(LOCAL), vip: ip(VIP), request: probe }));
  t.equal(rep?.ethDestination.toString(), '02:00:00:00:00:77');
  t.equal(rep?.targetIp.toString(), '0.0.0.0');
});

t.test('gratuitous ARP in both forms: broadcast, sender = target IP = vip', async (t) => {
  for (const form of ['request', 'reply'] as const) {
    const out = encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip(VIP), form });
    t.equal(out.length, 60, `${form}: 60 bytes`);
    t.same([...out.subarray(42)], new Array(18).fill(0), `${form}: zero padding`);
    const p = decoded(t, out);
    if (!p) continue;
    t.equal(p.operation, form);
    t.equal(p.ethDestination.toString(), 'ff:ff:ff:ff:ff:ff', `${form}: broadcast`);
    t.equal(p.ethSource.toString(), LOCAL);
    t.equal(p.senderMac.toString(), LOCAL);
    t.equal(p.senderIp.toString(), VIP);
    t.equal(p.targetIp.toString(), VIP);
    // request form: RFC 5227 announcement, target MAC zero; reply form: RFC 5944 4.6, target MAC = the new mapping
    t.equal(p.targetMac.toString(), form === 'request' ? '00:00:00:00:00:00' : LOCAL, `${form}: target MAC`);
    t.equal(classifyArp(p), 'gratuitous');
    t.equal(p.vlan, undefined);
  }
  const tagged = decoded(t, encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip(VIP), form: 'reply', vlan: 12 }));
  t.equal(tagged?.vlan, 12, 'optional VLAN tag');
  t.equal(encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip(VIP), form: 'request', vlan: 0 }).length, 64, 'VLAN 0 is a tag too');
});

t.test('never encodes an IPv6 address or a bad VLAN id', async (t) => {
  const req = decoded(t, frame());
  if (!req) return;
  t.throws(() => encodeArpReply({ localMac: mac(LOCAL), vip: ip('2001:db8::7'), request: req }), NotIpv4Error);
  t.throws(() => encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip('2001:db8::7'), form: 'request' }), NotIpv4Error);
  t.throws(() => encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip('::ffff:1.2.3.4'), form: 'reply' }), { code: 'BARELB_ARP_NOT_IPV4' });
  for (const vlan of [-1, 4096, 1.5, NaN]) {
    t.throws(() => encodeGratuitousArp({ localMac: mac(LOCAL), vip: ip(VIP), form: 'request', vlan }), RangeError, `vlan ${vlan}`);
  }
});

// ---------------------------------------------------------------------------
// properties

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => MacAddress.fromBytes(b));
const ipv4Arb = fc.nat({ max: 0xffffffff }).map((v) => IpAddress.fromValue('IPv4', BigInt(v)));

t.test('round trip: built frames decode to their fields; replies decode to what was asked', async (t) => {
  fc.assert(
    fc.property(
      macArb, macArb, macArb, macArb, ipv4Arb, ipv4Arb,
      fc.option(fc.nat({ max: 0xffff }), { nil: undefined }),
      fc.constantFrom(1, 2),
      macArb, ipv4Arb,
      (dst, src, sha, tha, spa, tpa, tci, op, local, vip) => {
        const f = frame({ dst: dst.toString(), src: src.toString(), sha: sha.toString(), tha: tha.toString(), spa: spa.toString(), tpa: tpa.toString(), tci, op });
        const r = decodeArpFrame(f);
        if (!r.ok) return false;
        const p = r.packet;
        const fieldsOk =
          p.ethDestination.equals(dst) && p.ethSource.equals(src) && p.senderMac.equals(sha) && p.targetMac.equals(tha) &&
          p.senderIp.equals(spa) && p.targetIp.equals(tpa) && p.operation === (op === 1 ? 'request' : 'reply') &&
          p.vlan === (tci === undefined ? undefined : tci & 0x0fff);
        const out = encodeArpReply({ localMac: local, vip, request: p });
        const back = decodeArpFrame(out);
        return (
          fieldsOk && back.ok && out.length === (tci === undefined ? 60 : 64) &&
          back.packet.operation === 'reply' && back.packet.vlan === p.vlan &&
          back.packet.ethDestination.equals(sha) && back.packet.ethSource.equals(local) &&
          back.packet.senderMac.equals(local) && back.packet.senderIp.equals(vip) &&
          back.packet.targetMac.equals(sha) && back.packet.targetIp.equals(spa)
        );
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('1000 random frames round-tripped');
});

/** An independent statement of the drop rules, read straight off the bytes. */
function expectedReason(f: Uint8Array): DropReason | 'ok' {
  const at = (i: number): number => f[i] ?? -1;
  const w = (i: number): number => (at(i) << 8) | at(i + 1);
  if (f.length < 14) return 'truncated';
  let o = 12;
  if (w(12) === 0x8100) {
    if (f.length < 18) return 'truncated';
    o = 16;
  }
  if (w(o) !== 0x0806) return 'not-arp';
  const a = o + 2;
  if (f.length < a + 8) return 'truncated';
  if (w(a) !== 1) return 'bad-hardware-type';
  if (w(a + 2) !== 0x0800) return 'bad-protocol-type';
  if (at(a + 4) !== 6 || at(a + 5) !== 4) return 'bad-lengths';
  if (w(a + 6) !== 1 && w(a + 6) !== 2) return 'bad-opcode';
  return f.length < a + 28 ? 'truncated' : 'ok';
}

function checkFuzzed(f: Uint8Array): boolean {
  let r;
  try {
    r = decodeArpFrame(f);
  } catch {
    return false;
  }
  const want = expectedReason(f);
  if (!r.ok) return r.reason === want && (DROP_REASONS as readonly string[]).includes(r.reason);
  const p = r.packet;
  const o = p.vlan === undefined ? 14 : 18;
  return (
    want === 'ok' && p.senderIp.family === 'IPv4' && p.targetIp.family === 'IPv4' &&
    // the fields are the bytes where they should be
    p.senderMac.equals(MacAddress.fromBytes(f.subarray(o + 8, o + 14))) &&
    p.targetIp.value === BigInt(((f[o + 24] as number) * 2 ** 24) + ((f[o + 25] as number) << 16) + ((f[o + 26] as number) << 8) + (f[o + 27] as number))
  );
}

t.test('fuzz: 12,000 random byte strings never throw and agree with the drop rules', async (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80, size: 'max' }),
        // random bytes behind a plausible Ethernet+ARP prefix, so later checks are reached too
        fc.tuple(fc.constantFrom([0x08, 0x06], [0x81, 0x00, 0x00, 0x05, 0x08, 0x06]), fc.nat(3), fc.uint8Array({ maxLength: 40, size: 'max' })).map(
          ([type, op, rest]) => Uint8Array.from([...new Array(12).fill(0xaa), ...type, 0, 1, 8, 0, 6, 4, 0, op, ...rest]),
        ),
      ),
      (f) => {
        if (decodeArpFrame(f).ok) accepted++;
        return checkFuzzed(f);
      },
    ),
    { numRuns: 12_000 },
  );
  t.ok(accepted > 0, `some random frames were valid ARP (${accepted})`);
});

t.test('fuzz: 12,000 mutated valid frames never throw and agree with the drop rules', async (t) => {
  const seeds = [frame(), frame({ op: 2 }), frame({ tci: 100 }), frame({ pad: false }), frame({ tci: 7, pad: false })];
  const reasons = new Set<string>();
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(63), fc.nat(255)), { maxLength: 4 }),
      fc.option(fc.nat(64), { nil: undefined }),
      fc.uint8Array({ maxLength: 8 }),
      (which, flips, cut, tail) => {
        const base = [...(seeds[which] as Uint8Array)];
        for (const [i, v] of flips) if (i < base.length) base[i] = v;
        const f = Uint8Array.from([...(cut === undefined ? base : base.slice(0, cut)), ...(cut === undefined ? tail : [])]);
        const r = decodeArpFrame(f);
        reasons.add(r.ok ? 'ok' : r.reason);
        return checkFuzzed(f);
      },
    ),
    { numRuns: 12_000 },
  );
  t.same([...reasons].sort(), ['ok', ...DROP_REASONS].sort(), 'mutations reached every outcome');
});
