import t from 'tap';
import fc from 'fast-check';
import {
  DROP_REASONS,
  MacAddress,
  classifyArp,
  decodeArpFrame,
  encodeArpReply,
  encodeGratuitousArp,
  type ArpPacket,
} from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';
import { decideArp } from '../../src/speaker/arp-policy.js';

// Hostile frames for the decoder and the speaker's per-frame decision, beyond
// arp-frame.test.ts (which checks random and byte-mutated frames against the
// drop rules and round-trips replies): gratuitous ARP round trips, frames as
// views into shared or jumbo buffers, input aliasing, and decideArp against an
// independent model, on random and mutated frames.
//
// The unit suite runs a few seconds of this. For a long run:
//   BARELB_FUZZ_RUNS=1000000 npx tap --timeout=3600 test/net/arp-frame.fuzz.test.ts
// (runs per property; the default is 2,000).
const RUNS = Number(process.env['BARELB_FUZZ_RUNS'] ?? 2_000);
/** Per frame; decoding takes microseconds, the slack is for a loaded machine. */
const PER_FRAME_MS = 200;

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => MacAddress.fromBytes(b));
const ipv4Arb = fc.nat({ max: 0xffffffff }).map((v) => IpAddress.fromValue('IPv4', BigInt(v)));
const vlanArb = fc.option(fc.nat({ max: 4095 }), { nil: undefined });

/** Decodes, failing on a throw or a slow frame. */
function decodeTimed(f: Uint8Array): ReturnType<typeof decodeArpFrame> {
  const started = performance.now();
  const r = decodeArpFrame(f);
  const ms = performance.now() - started;
  if (ms > PER_FRAME_MS) throw new Error(`decoding ${f.length} bytes took ${ms.toFixed(1)} ms`);
  return r;
}

function samePacket(a: ArpPacket, b: ArpPacket): boolean {
  return (
    a.operation === b.operation && a.vlan === b.vlan &&
    a.ethSource.equals(b.ethSource) && a.ethDestination.equals(b.ethDestination) &&
    a.senderMac.equals(b.senderMac) && a.targetMac.equals(b.targetMac) &&
    a.senderIp.equals(b.senderIp) && a.targetIp.equals(b.targetIp)
  );
}

t.test('round trip: gratuitous ARP in both forms decodes to what was announced (property)', async (t) => {
  fc.assert(
    fc.property(macArb, ipv4Arb, fc.constantFrom('request' as const, 'reply' as const), vlanArb, (local, vip, form, vlan) => {
      const out = encodeGratuitousArp({ localMac: local, vip, form, ...(vlan === undefined ? {} : { vlan }) });
      const r = decodeTimed(out);
      if (!r.ok) return false;
      const p = r.packet;
      return (
        out.length === (vlan === undefined ? 60 : 64) &&
        p.operation === form && p.vlan === vlan &&
        p.ethDestination.equals(MacAddress.BROADCAST) && p.ethSource.equals(local) && p.senderMac.equals(local) &&
        p.senderIp.equals(vip) && p.targetIp.equals(vip) &&
        p.targetMac.equals(form === 'request' ? MacAddress.ZERO : local) &&
        // 0.0.0.0 is a probe by definition, whatever the form
        classifyArp(p) === (vip.value === 0n ? 'probe' : 'gratuitous')
      );
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} announcements round-tripped`);
});

t.test('round trip: a reply to a decoded reply-of-a-reply is stable (encode ∘ decode is a fixed point)', async (t) => {
  fc.assert(
    fc.property(macArb, macArb, ipv4Arb, ipv4Arb, vlanArb, (a, b, ipA, ipB, vlan) => {
      // a asks; b answers; a "answers" b's reply: the second reply must equal the first with the roles swapped back.
      const ask = encodeGratuitousArp({ localMac: a, vip: ipA, form: 'request', ...(vlan === undefined ? {} : { vlan }) });
      const askP = decodeTimed(ask);
      if (!askP.ok) return false;
      const r1 = encodeArpReply({ localMac: b, vip: ipB, request: askP.packet });
      const r1p = decodeTimed(r1);
      if (!r1p.ok) return false;
      const r2 = encodeArpReply({ localMac: a, vip: ipA, request: r1p.packet });
      const r2p = decodeTimed(r2);
      if (!r2p.ok) return false;
      const r3 = encodeArpReply({ localMac: b, vip: ipB, request: r2p.packet });
      return Buffer.compare(Buffer.from(r1), Buffer.from(r3)) === 0;
    }),
    { numRuns: RUNS / 2 },
  );
  t.pass('stable');
});

/** Valid frames of every shape the encoder makes. */
const encodedFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(macArb, ipv4Arb, fc.constantFrom('request' as const, 'reply' as const), vlanArb).map(([localMac, vip, form, vlan]) =>
    encodeGratuitousArp({ localMac, vip, form, ...(vlan === undefined ? {} : { vlan }) }),
  ),
  fc.tuple(macArb, ipv4Arb, macArb, ipv4Arb, vlanArb).map(([localMac, vip, asker, askerIp, vlan]) => {
    const ask = decodeArpFrame(encodeGratuitousArp({ localMac: asker, vip: askerIp, form: 'request', ...(vlan === undefined ? {} : { vlan }) }));
    if (!ask.ok) throw new Error('unreachable: the encoder made a frame the decoder drops');
    return encodeArpReply({ localMac, vip, request: ask.packet });
  }),
);

t.test('frames as views: offsets into shared buffers, Buffers, jumbo and 64 KiB frames decode by their own bytes only (property)', async (t) => {
  fc.assert(
    fc.property(
      encodedFrame,
      fc.nat(64),
      fc.nat(9_000),
      fc.uint8Array({ maxLength: 16 }),
      fc.boolean(),
      (f, before, after, fill, asBuffer) => {
        // The frame sits inside a bigger buffer of junk; the view covers exactly the frame plus `after` junk bytes.
        const big = new Uint8Array(before + f.length + after + 64);
        for (let i = 0; i < big.length; i++) big[i] = fill.length ? (fill[i % fill.length] as number) : 0xa5;
        big.set(f, before);
        const view = asBuffer ? Buffer.from(big.buffer, before, f.length + after) : big.subarray(before, before + f.length + after);
        const direct = decodeTimed(f);
        const viewed = decodeTimed(view);
        if (!direct.ok || !viewed.ok || !samePacket(direct.packet, viewed.packet)) return false;
        // Cut the view short: the bytes beyond it (present in the buffer) must not be read.
        const bodyEnd = direct.packet.vlan === undefined ? 42 : 46;
        for (const cut of [13, 17, 21, bodyEnd - 1]) {
          const short = decodeTimed(big.subarray(before, before + cut));
          if (short.ok || short.reason !== 'truncated') return false;
        }
        return true;
      },
    ),
    { numRuns: RUNS / 2 },
  );
  const huge = new Uint8Array(65_536).fill(0xff);
  huge.set(encodeGratuitousArp({ localMac: MacAddress.parse('02:00:00:00:00:01'), vip: IpAddress.parse('192.0.2.1'), form: 'reply' }));
  t.ok(decodeTimed(huge).ok, 'a 64 KiB frame decodes from its first bytes');
  t.same(decodeTimed(new Uint8Array(65_536)), { ok: false, reason: 'not-arp' }, '64 KiB of zeros is not ARP');
});

t.test('a decoded packet does not alias the frame: reusing the receive buffer cannot change it (property)', async (t) => {
  fc.assert(
    fc.property(encodedFrame, fc.uint8Array({ minLength: 64, maxLength: 64 }), (f, junk) => {
      const buf = Uint8Array.from(f);
      const r = decodeTimed(buf);
      if (!r.ok) return false;
      const before = JSON.stringify(r.packet, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof MacAddress ? v.toString() : v));
      buf.set(junk.subarray(0, buf.length));
      const after = JSON.stringify(r.packet, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof MacAddress ? v.toString() : v));
      // and the bytes a MacAddress hands out are copies too
      r.packet.senderMac.bytes.fill(0);
      const again = JSON.stringify(r.packet, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof MacAddress ? v.toString() : v));
      return before === after && after === again;
    }),
    { numRuns: RUNS / 2 },
  );
  t.pass('no aliasing');
});

// ---------------------------------------------------------------------------
// decideArp against an independent model

const LOCAL = MacAddress.parse('02:42:ac:11:00:02');
const HELD = ['198.51.100.7', '198.51.100.8', '0.0.0.0', '255.255.255.255'];

/** What the speaker must do with a frame, written from the README's rules rather than the code. */
function modelDecision(f: Uint8Array, held: ReadonlySet<string>): string {
  const r = decodeArpFrame(f);
  if (!r.ok) return `drop:${r.reason}`;
  const p = r.packet;
  if (p.senderMac.equals(LOCAL)) return 'ignore:own-frame';
  const spa = p.senderIp.toString();
  const tpa = p.targetIp.toString();
  // A probe (RFC 5227) for a held address is answered, as the kernel answers one for its own.
  if (spa === '0.0.0.0') return held.has(tpa) ? 'answer' : 'ignore:probe';
  if (spa === tpa) return held.has(spa) ? 'conflict' : 'ignore:gratuitous';
  if (p.operation === 'reply') return held.has(spa) ? 'conflict' : 'ignore:reply';
  return held.has(tpa) ? 'answer' : 'ignore:not-held';
}

function decisionKey(d: ReturnType<typeof decideArp>): string {
  return d.action === 'drop' || d.action === 'ignore' ? `${d.action}:${d.reason}` : d.action;
}

/** Frames likely to reach every branch: built around held addresses and our MAC, then damaged. */
const policyFrame: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(1, 2, 3),
    fc.oneof(fc.constantFrom(LOCAL, MacAddress.parse('52:54:00:00:00:01')), macArb),
    fc.oneof(fc.constantFrom(...HELD, '198.51.100.9').map((s) => IpAddress.parse(s)), ipv4Arb),
    fc.oneof(fc.constantFrom(...HELD, '198.51.100.9').map((s) => IpAddress.parse(s)), ipv4Arb),
    vlanArb,
    fc.array(fc.tuple(fc.nat(63), fc.nat(255)), { maxLength: 3 }),
    fc.option(fc.nat(64), { nil: undefined }),
  )
  .map(([op, sha, spa, tpa, vlan, flips, cut]) => {
    const tagged = vlan !== undefined;
    const o = tagged ? 18 : 14;
    const f = new Uint8Array(tagged ? 64 : 60);
    f.set(MacAddress.BROADCAST.bytes, 0);
    f.set(sha.bytes, 6);
    if (tagged) f.set([0x81, 0x00, vlan >> 8, vlan & 0xff], 12);
    f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, op], o - 2);
    f.set(sha.bytes, o + 8);
    const ipBytes = (ip: IpAddress): number[] => [24n, 16n, 8n, 0n].map((s) => Number((ip.value >> s) & 0xffn));
    f.set(ipBytes(spa), o + 14);
    f.set(ipBytes(tpa), o + 24);
    for (const [i, v] of flips) f[i] = v;
    return cut === undefined ? f : f.subarray(0, cut);
  });

t.test('decideArp: never throws, and agrees with the model on random and damaged frames (property)', async (t) => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(
      fc.oneof(policyFrame, fc.uint8Array({ maxLength: 80 })),
      fc.subarray(HELD),
      (f, heldList) => {
        const held = new Set(heldList);
        const started = performance.now();
        const d = decideArp(f, held, LOCAL);
        if (performance.now() - started > PER_FRAME_MS) return false;
        const key = decisionKey(d);
        seen.add(key);
        if (key !== modelDecision(f, held)) return false;
        // Only a request for a held address from someone else is ever answered, and the answer goes to the asker.
        if (d.action === 'answer') {
          const out = encodeArpReply({ localMac: LOCAL, vip: d.packet.targetIp, request: d.packet });
          const back = decodeArpFrame(out);
          return back.ok && back.packet.targetMac.equals(d.packet.senderMac) && back.packet.senderIp.equals(d.packet.targetIp) && held.has(d.packet.targetIp.toString());
        }
        return true;
      },
    ),
    { numRuns: RUNS * 3 },
  );
  const want = [
    'answer', 'conflict', 'ignore:own-frame', 'ignore:probe', 'ignore:gratuitous', 'ignore:reply', 'ignore:not-held',
    ...DROP_REASONS.filter((r) => r !== 'bad-protocol-type' && r !== 'bad-hardware-type' && r !== 'bad-lengths').map((r) => `drop:${r}`),
  ];
  t.same(want.filter((k) => !seen.has(k)), [], `every decision was reached (${[...seen].sort().join(', ')})`);
});

t.test('decideArp: a held set full of junk strings changes nothing but membership', async (t) => {
  const junkHeld = new Set(['', ' 198.51.100.7', '198.51.100.07', '::ffff:198.51.100.7', '198.51.100.7/32', 'x'.repeat(10_000)]);
  fc.assert(
    fc.property(policyFrame, (f) => {
      const d = decideArp(f, junkHeld, LOCAL);
      // No canonical IPv4 string is in the set, so nothing is ever answered or claimed.
      return d.action === 'drop' || d.action === 'ignore';
    }),
    { numRuns: RUNS },
  );
  t.pass('only canonical strings match');
});
