import t from 'tap';
import fc from 'fast-check';
import { createHash, createHmac } from 'node:crypto';
import {
  HEARTBEAT_DROP_REASONS,
  HEARTBEAT_MAX_FRAME,
  HeartbeatKey,
  claimChunks,
  claimsDigest,
  decodeHeartbeat,
  encodeHeartbeat,
  nodeId,
  type DecodedHeartbeat,
  type Heartbeat,
} from '../../src/election/heartbeat-frame.js';
import { MacAddress } from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';

// Hostile frames for the heartbeat decoder, beyond heartbeat-frame.test.ts
// (which checks every drop reason by hand, round trips and bit flips):
// random, mutated and signed-but-garbled frames checked against an
// independent model of the drop rules and of the structure (read with Buffer's
// own readers, not the codec's), frames as views into shared buffers, and
// encode ∘ decode being the identity on every frame the decoder accepts.
//
// The unit suite runs a few seconds of this. For a long run:
//   BARELB_FUZZ_RUNS=1000000 npx tap --timeout=3600 test/election/heartbeat-frame.fuzz.test.ts
// (runs per property; the default is 2,000).
const RUNS = Number(process.env['BARELB_FUZZ_RUNS'] ?? 2_000);
/** Per frame; decoding takes microseconds, the slack is for a loaded machine. */
const PER_FRAME_MS = 200;

const SECRET = Buffer.from('fuzz secret: sixteen bytes at least');
const OLD_SECRET = Buffer.from('the previous fuzz secret, rotated');
const KEY = HeartbeatKey.fromSecret(SECRET);
const OLD_KEY = HeartbeatKey.fromSecret(OLD_SECRET);
const OTHER_SECRET = Buffer.from('someone else entirely, elsewhere');
const OTHER_KEY = HeartbeatKey.fromSecret(OTHER_SECRET);
const KEYS = [KEY, OLD_KEY];
/** The model's own copy of each key's secret, by id. */
const SECRETS = new Map([[KEY.id, SECRET], [OLD_KEY.id, OLD_SECRET], [OTHER_KEY.id, OTHER_SECRET]]);
const fingerprint = (secret: Buffer): Buffer => createHash('sha256').update('barelb heartbeat key\0').update(secret).digest().subarray(0, 8);
const SRC = MacAddress.parse('02:42:ac:11:00:02');

/** Decodes, failing on a throw or a slow frame. */
function decodeTimed(f: Uint8Array, keys: readonly HeartbeatKey[] = KEYS): DecodedHeartbeat {
  const started = performance.now();
  const r = decodeHeartbeat(f, keys);
  const ms = performance.now() - started;
  if (ms > PER_FRAME_MS) throw new Error(`decoding ${f.length} bytes took ${ms.toFixed(1)} ms`);
  return r;
}

// ---------------------------------------------------------------------------
// an independent model, read straight off the bytes

type Expected = Exclude<DecodedHeartbeat, { ok: true }>['reason'] | 'ok';

/** Where the payload starts, or a reason it cannot. */
function payloadStart(f: Buffer): number | 'short' | 'not-heartbeat' {
  if (f.length < 14) return 'short';
  if (f.readUInt16BE(12) !== 0x8100) return f.readUInt16BE(12) === 0x88b5 ? 14 : 'not-heartbeat';
  if (f.length < 18) return 'short';
  return f.readUInt16BE(16) === 0x88b5 ? 18 : 'not-heartbeat';
}

function expectedReason(frame: Uint8Array, keys: readonly HeartbeatKey[]): Expected {
  const f = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  const p = payloadStart(f);
  if (typeof p !== 'number') return p;
  if (f.length - p < 62) return 'short';
  if (f.toString('latin1', p, p + 2) !== 'BL') return 'not-heartbeat';
  if (f[p + 2] !== 1) return 'version';
  if ((f[6] as number) % 2 === 1) return 'own-mac-multicast';
  const fp = f.subarray(p + 4, p + 12);
  const secrets = keys.map((k) => SECRETS.get(k.id) as Buffer).filter((s) => fingerprint(s).equals(fp));
  if (secrets.length === 0) return 'other-cluster';
  const body = f.subarray(p, f.length - 16);
  const mac = f.subarray(f.length - 16);
  if (!secrets.some((s) => createHmac('sha256', s).update(body).digest().subarray(0, 16).equals(mac))) return 'unauthenticated';
  return structureOk(body) ? 'ok' : 'malformed';
}

/** Whether the signed bytes (magic up to the MAC) are a well-formed heartbeat. Buffer's readers throw past the end. */
function structureOk(body: Buffer): boolean {
  try {
    if ((body.readUInt8(3) & 0xf0) !== 0) return false;
    if (body.readBigUInt64BE(12) > BigInt(Number.MAX_SAFE_INTEGER)) return false;
    const total = body.readUInt32BE(32);
    const index = body.readUInt16BE(36);
    const count = body.readUInt16BE(38);
    if (count === 0 || index >= count) return false;
    let o = 40;
    const nameLength = body.readUInt8(o++);
    if (nameLength < 1 || nameLength > 253 || o + nameLength > body.length) return false;
    const nameBytes = body.subarray(o, o + nameLength);
    const name = nameBytes.toString('utf8');
    // invalid sequences become U+FFFD, so only valid UTF-8 survives the round trip
    if (!Buffer.from(name, 'utf8').equals(nameBytes)) return false;
    for (const ch of name) {
      const cp = ch.codePointAt(0) as number;
      if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
    }
    o += nameLength;
    o += 2 + 4 * body.readUInt16BE(o);
    const claims = body.readUInt16BE(o);
    o += 2;
    if (claims > total) return false;
    for (let i = 0; i < claims; i++) {
      const family = body.readUInt8(o);
      if (family !== 4 && family !== 6) return false;
      o += family === 4 ? 5 : 17;
    }
    return o === body.length;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** `f` without its VLAN tag and with the broadcast destination: what the encoder would have made. */
function asSent(f: Uint8Array): Buffer {
  const tagged = f[12] === 0x81 && f[13] === 0x00;
  return Buffer.concat([Buffer.alloc(6, 0xff), f.subarray(6, 12), f.subarray(tagged ? 16 : 12)]);
}

function checkFuzzed(f: Uint8Array, keys: readonly HeartbeatKey[] = KEYS): boolean {
  const r = decodeTimed(f, keys);
  const want = expectedReason(f, keys);
  if (!r.ok) return r.reason === want && (HEARTBEAT_DROP_REASONS as readonly string[]).includes(r.reason);
  if (want !== 'ok') return false;
  // the decoded fields are the bytes: encoding them again gives the frame back
  const key = keys.find((k) => k.id === r.keyId);
  const sent = asSent(f);
  if (key === undefined || !r.srcMac.equals(MacAddress.fromBytes(f.subarray(6, 12)))) return false;
  if (sent.length > HEARTBEAT_MAX_FRAME) return true; // too long for our encoder; someone with the key made it
  return sent.equals(encodeHeartbeat(r.heartbeat, r.srcMac, key));
}

// ---------------------------------------------------------------------------
// frames

const ipArb: fc.Arbitrary<string> = fc.oneof(
  fc.nat({ max: 0xffffffff }).map((v) => IpAddress.fromValue('IPv4', BigInt(v)).toString()),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IpAddress.fromValue('IPv6', v).toString()),
);
const nameArb = fc.oneof(
  fc.constantFrom('worker-1', 'n', 'a'.repeat(253), '😀'.repeat(63)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !/\p{Cc}/u.test(s) && Buffer.byteLength(s) <= 253),
);
const heartbeatArb: fc.Arbitrary<Heartbeat> = fc
  .tuple(nameArb, fc.maxSafeNat(), fc.nat({ max: 0xffffffff }), fc.nat(15), fc.array(ipArb, { maxLength: 100 }), fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 40 }), fc.nat())
  .map(([node, incarnation, seq, bits, ips, hears, pick]) => {
    const chunks = claimChunks(ips, node, hears.length);
    const chunkIndex = pick % chunks.length;
    return {
      node,
      incarnation,
      seq,
      flags: { leaving: (bits & 1) !== 0, apiReachable: (bits & 2) !== 0, rejoining: (bits & 4) !== 0, unfit: (bits & 8) !== 0 },
      claimsDigest: claimsDigest(ips),
      claimsTotal: chunks.flat().length,
      chunkIndex,
      chunkCount: chunks.length,
      claims: chunks[chunkIndex] as string[],
      hears,
    };
  });
const tag = (f: Uint8Array, tci: number): Uint8Array => Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, tci >> 8, tci & 0xff, ...f.subarray(12)]);

/** Valid frames of every shape: either key, tagged or not. */
const encodedFrame: fc.Arbitrary<Uint8Array> = fc
  .tuple(heartbeatArb, fc.constantFrom(KEY, OLD_KEY), fc.option(fc.nat(0xffff), { nil: undefined }))
  .map(([h, key, tci]) => {
    const f = encodeHeartbeat(h, SRC, key);
    return tci === undefined ? f : tag(f, tci);
  });

const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number): number[] => [...be16(Math.floor(v / 0x10000)), ...be16(v % 0x10000)];

/** The first arbitrary 9 times in 10, else one of the others. */
function mostly<T>(usual: fc.Arbitrary<T>, ...unusual: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: usual, weight: 9 * unusual.length }, ...unusual.map((arbitrary) => ({ arbitrary, weight: 1 })));
}

/**
 * Correctly signed frames whose fields are drawn near every structural limit: what a buggy (or hostile) speaker
 * holding the key could send. The parser only ever sees such bytes after the MAC verified.
 */
const signedFrame: fc.Arbitrary<Uint8Array> = fc
  .record({
    flags: mostly(fc.nat(15), fc.nat(255)),
    incarnation: mostly(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 53n + 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    seq: fc.nat({ max: 0xffffffff }),
    digest: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    /** added to the number of claims, unless absolute */
    total: mostly<{ add: number } | { abs: number }>(fc.nat(3).map((n) => ({ add: n })), fc.nat({ max: 0xffffffff }).map((n) => ({ abs: n }))),
    chunk: mostly(
      fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.nat()).map(([count, pick]) => [pick % count, count] as const),
      fc.tuple(fc.oneof(fc.nat(3), fc.nat(0xffff)), fc.oneof(fc.nat(3), fc.nat(0xffff))).map(([index, count]) => [index, count] as const),
    ),
    name: mostly(
      nameArb.map((s) => [...Buffer.from(s)]),
      fc.array(fc.nat(255), { maxLength: 8 }),
      fc.constantFrom([], [0x61, 0x00], [0xc3], [0xed, 0xa0, 0x80], [0xc2, 0x85], [0xef, 0xbb, 0xbf], new Array<number>(254).fill(0x61)),
    ),
    nameLengthDelta: mostly(fc.constant(0), fc.integer({ min: -2, max: 2 })),
    hears: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 6 }),
    hearsDelta: mostly(fc.constant(0), fc.integer({ min: -2, max: 2 })),
    claims: fc.array(
      mostly(
        ipArb.map((ip) => {
          const a = IpAddress.parse(ip);
          const n = a.family === 'IPv4' ? 4 : 16;
          return [n === 4 ? 4 : 6, ...Array.from({ length: n }, (_, i) => Number((a.value >> BigInt(8 * (n - 1 - i))) & 0xffn))];
        }),
        fc.tuple(fc.nat(255), fc.array(fc.nat(255), { maxLength: 17 })).map(([family, bytes]) => [family, ...bytes]),
      ),
      { maxLength: 5 },
    ),
    claimsDelta: mostly(fc.constant(0), fc.integer({ min: -2, max: 2 })),
    extra: mostly(fc.constant([] as number[]), fc.array(fc.nat(255), { maxLength: 3 })),
    secret: fc.constantFrom(SECRET, OLD_SECRET),
    tci: fc.option(fc.nat(0xffff), { nil: undefined }),
  })
  .map((s) => {
    const claimsBytes = s.claims.flat();
    const body = Buffer.from([
      0x42, 0x4c, 1, s.flags, ...fingerprint(s.secret),
      ...be32(Number(s.incarnation >> 32n)), ...be32(Number(s.incarnation & 0xffffffffn)),
      ...be32(s.seq), ...s.digest, ...be32('abs' in s.total ? s.total.abs : s.claims.length + s.total.add), ...be16(s.chunk[0]), ...be16(s.chunk[1]),
      (s.name.length + s.nameLengthDelta) & 0xff, ...s.name,
      ...be16((s.hears.length + s.hearsDelta) & 0xffff), ...s.hears.flatMap(be32),
      ...be16((s.claims.length + s.claimsDelta) & 0xffff), ...claimsBytes,
      ...s.extra,
    ]);
    const f = Uint8Array.from([...MacAddress.BROADCAST.bytes, ...SRC.bytes, 0x88, 0xb5, ...body, ...createHmac('sha256', s.secret).update(body).digest().subarray(0, 16)]);
    return s.tci === undefined ? f : tag(f, s.tci);
  });

// ---------------------------------------------------------------------------
// properties

t.test('fuzz: random byte strings never throw and agree with the model', async (t) => {
  const reasons = new Set<string>();
  const fp = [...fingerprint(SECRET)];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 120, size: 'max' }),
        // random bytes behind a plausible prefix, so later checks are reached too
        fc
          .tuple(
            fc.constantFrom([0x88, 0xb5], [0x81, 0x00, 0x00, 0x05, 0x88, 0xb5]),
            fc.constantFrom([0x42, 0x4c, 1], [0x42, 0x4c, 2], [0x42, 0x4c]),
            fc.boolean(),
            fc.constantFrom(0x02, 0x03),
            fc.uint8Array({ maxLength: 200, size: 'max' }),
          )
          .map(([type, head, ours, srcFirst, rest]) =>
            Uint8Array.from([...new Array<number>(6).fill(0xff), srcFirst, 0, 0, 0, 0, 1, ...type, ...head, ...(ours ? [0, ...fp] : []), ...rest]),
          ),
      ),
      (f) => {
        const r = decodeTimed(f);
        reasons.add(r.ok ? 'ok' : r.reason);
        return checkFuzzed(f);
      },
    ),
    { numRuns: RUNS * 3 },
  );
  t.same(
    HEARTBEAT_DROP_REASONS.filter((r) => r !== 'malformed').filter((r) => !reasons.has(r)),
    [],
    `random bytes reached every pre-MAC outcome (${[...reasons].sort().join(', ')})`,
  );
});

t.test('fuzz: mutated valid frames never throw and agree with the model', async (t) => {
  const reasons = new Set<string>();
  fc.assert(
    fc.property(
      encodedFrame,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 8 }),
      fc.constantFrom([KEY, OLD_KEY], [OLD_KEY, KEY], [KEY], [OTHER_KEY, KEY]),
      (frame, flips, cut, tail, keys) => {
        const base = Uint8Array.from(frame);
        // flips land mostly in the first 64 bytes, where the header is
        for (const [i, v] of flips) base[i % (i % 2 === 0 ? 64 : base.length)] = v;
        const f = Uint8Array.from([...(cut === undefined ? base : base.subarray(0, cut % (base.length + 1))), ...(cut === undefined ? tail : [])]);
        const r = decodeTimed(f, keys);
        reasons.add(r.ok ? 'ok' : r.reason);
        return checkFuzzed(f, keys);
      },
    ),
    { numRuns: RUNS * 3 },
  );
  t.same([...HEARTBEAT_DROP_REASONS, 'ok'].filter((r) => r !== 'malformed' && !reasons.has(r)), [], `mutations reached every outcome but malformed (${[...reasons].sort().join(', ')})`);
});

t.test('fuzz: signed frames with garbled structure never throw; accepted iff well-formed, then re-encode to themselves', async (t) => {
  let ok = 0;
  let malformed = 0;
  fc.assert(
    fc.property(signedFrame, (f) => {
      const r = decodeTimed(f);
      if (r.ok) ok++;
      else if (r.reason === 'malformed') malformed++;
      // 'short': fields so small the payload is under the smallest heartbeat's
      return (r.ok || r.reason === 'malformed' || r.reason === 'short') && checkFuzzed(f);
    }),
    { numRuns: RUNS * 3 },
  );
  t.ok(ok > RUNS / 10, `some were well-formed (${ok})`);
  t.ok(malformed > RUNS / 10, `some were malformed (${malformed})`);
});

t.test('frames as views: offsets into shared buffers and Buffers decode by their own bytes only (property)', async (t) => {
  fc.assert(
    fc.property(encodedFrame, fc.nat(64), fc.integer({ min: 1, max: 2_000 }), fc.uint8Array({ maxLength: 16 }), fc.boolean(), (f, before, after, fill, asBuffer) => {
      const big = new Uint8Array(before + f.length + after);
      for (let i = 0; i < big.length; i++) big[i] = fill.length ? (fill[i % fill.length] as number) : 0xa5;
      big.set(f, before);
      const exact = asBuffer ? Buffer.from(big.buffer, before, f.length) : big.subarray(before, before + f.length);
      const direct = decodeTimed(f);
      const viewed = decodeTimed(exact);
      if (!direct.ok || !viewed.ok || JSON.stringify(direct) !== JSON.stringify(viewed)) return false;
      // bytes past the MAC, even when present in the buffer, make it another (unauthenticated) frame
      const longer = decodeTimed(big.subarray(before, before + f.length + after));
      const shortView = big.subarray(before, before + f.length - 1);
      const shorter = decodeTimed(shortView);
      return !longer.ok && longer.reason === 'unauthenticated' && !shorter.ok && shorter.reason === expectedReason(shortView, KEYS);
    }),
    { numRuns: RUNS / 2 },
  );
  const huge = new Uint8Array(65_536).fill(0xff);
  huge.set(encodeHeartbeat({
    node: 'n', incarnation: 1, seq: 1, flags: { leaving: false, apiReachable: true, rejoining: false, unfit: false },
    claimsDigest: claimsDigest([]), claimsTotal: 0, chunkIndex: 0, chunkCount: 1, claims: [], hears: [nodeId('m')],
  }, SRC, KEY));
  t.same(decodeTimed(huge), { ok: false, reason: 'unauthenticated' }, 'a heartbeat followed by 64 KiB of junk');
  t.same(decodeTimed(new Uint8Array(65_536)), { ok: false, reason: 'not-heartbeat' }, '64 KiB of zeros is not a heartbeat');
  const junk = new Uint8Array(65_536).fill(0x5a);
  junk.set([0x88, 0xb5, 0x42, 0x4c, 1, 0, ...fingerprint(SECRET)], 12);
  junk[6] = 2;
  t.same(decodeTimed(junk), { ok: false, reason: 'unauthenticated' }, '64 KiB under our fingerprint costs one HMAC and is dropped');
});
