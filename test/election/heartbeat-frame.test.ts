import t from 'tap';
import fc from 'fast-check';
import { createHash, createHmac } from 'node:crypto';
import { inspect, isDeepStrictEqual } from 'node:util';
import {
  HEARTBEAT_DROP_REASONS,
  HEARTBEAT_ETHERTYPE,
  HEARTBEAT_MAX_FRAME,
  HEARTBEAT_VERSION,
  HeartbeatEncodeError,
  HeartbeatKey,
  InvalidHeartbeatKeyError,
  claimChunks,
  claimsDigest,
  decodeHeartbeat,
  encodeHeartbeat,
  nodeId,
  type Heartbeat,
  type HeartbeatDropReason,
} from '../../src/election/heartbeat-frame.js';
import { MacAddress } from '../../src/net/arp-frame.js';
import { IpAddress, InvalidIpError } from '../../src/net/ip.js';

// ---------------------------------------------------------------------------
// a frame builder independent of the codec: plain byte arrays, node:crypto for the fingerprint and the MAC

const SECRET = Uint8Array.from(Buffer.from('0123456789abcdef0123456789abcdef'));
const OLD_SECRET = Uint8Array.from(Buffer.from('an older secret, rotated out soon'));
const OTHER_SECRET = Uint8Array.from(Buffer.from('another cluster entirely, 32 byte'));
const KEY = HeartbeatKey.fromSecret(SECRET);
const OLD_KEY = HeartbeatKey.fromSecret(OLD_SECRET);
const OTHER_KEY = HeartbeatKey.fromSecret(OTHER_SECRET);
const SRC = '02:42:ac:11:00:02';

const fingerprintOf = (secret: Uint8Array): number[] =>
  [...createHash('sha256').update(Buffer.concat([Buffer.from('barelb heartbeat key\0'), secret])).digest().subarray(0, 8)];
const macBytes = (m: string): number[] => m.split(':').map((h) => parseInt(h, 16));
const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number): number[] => [...be16(Math.floor(v / 0x10000)), ...be16(v % 0x10000)];
const be64 = (v: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * (7 - i))) & 0xffn));
const hexBytes = (h: string): number[] => (h.match(/../g) ?? []).map((x) => parseInt(x, 16));
const v4 = (s: string): number[] => [4, ...s.split('.').map(Number)];
const v6 = (s: string): number[] => {
  const v = IpAddress.parse(s).value;
  return [6, ...Array.from({ length: 16 }, (_, i) => Number((v >> BigInt(8 * (15 - i))) & 0xffn))];
};

interface FrameSpec {
  dst?: string;
  src?: string;
  /** a full 16-bit TCI; undefined: untagged */
  tci?: number;
  tpid?: number;
  ethertype?: number;
  magic?: number[];
  version?: number;
  flags?: number;
  /** signs with this secret, and writes its fingerprint unless `fingerprint` is given */
  secret?: Uint8Array;
  fingerprint?: number[];
  incarnation?: bigint;
  seq?: number;
  digest?: string;
  total?: number;
  index?: number;
  count?: number;
  name?: string | number[];
  nameLength?: number;
  hears?: number[];
  hearsCount?: number;
  /** each [family byte, ...address bytes] */
  claims?: number[][];
  claimsCount?: number;
  /** leave out the claims count (and the claims) */
  noClaimsCount?: boolean;
  /** bytes between the last claim and the MAC (signed) */
  extra?: number[];
  /** false: a MAC of zeros */
  sign?: boolean;
  /** bytes after the MAC */
  after?: number[];
  cut?: number;
}

function frame(s: FrameSpec = {}): Uint8Array {
  const eth = [...macBytes(s.dst ?? 'ff:ff:ff:ff:ff:ff'), ...macBytes(s.src ?? SRC)];
  if (s.tci !== undefined) eth.push(...be16(s.tpid ?? 0x8100), ...be16(s.tci));
  eth.push(...be16(s.ethertype ?? 0x88b5));
  const secret = s.secret ?? SECRET;
  const name = typeof s.name === 'object' ? s.name : [...Buffer.from(s.name ?? 'node-a')];
  const hears = s.hears ?? [];
  const claims = s.claims ?? [];
  const payload = [
    ...(s.magic ?? [0x42, 0x4c]),
    s.version ?? 1,
    s.flags ?? 0,
    ...(s.fingerprint ?? fingerprintOf(secret)),
    ...be64(s.incarnation ?? 1_700_000_000_000n),
    ...be32(s.seq ?? 7),
    ...hexBytes(s.digest ?? '0011223344556677'),
    ...be32(s.total ?? claims.length),
    ...be16(s.index ?? 0),
    ...be16(s.count ?? 1),
    s.nameLength ?? name.length,
    ...name,
    ...be16(s.hearsCount ?? hears.length),
    ...hears.flatMap(be32),
    ...(s.noClaimsCount ? [] : [...be16(s.claimsCount ?? claims.length), ...claims.flat()]),
    ...(s.extra ?? []),
  ];
  const mac = s.sign === false ? new Array<number>(16).fill(0) : [...createHmac('sha256', secret).update(Uint8Array.from(payload)).digest().subarray(0, 16)];
  const bytes = [...eth, ...payload, ...mac, ...(s.after ?? [])];
  return Uint8Array.from(s.cut === undefined ? bytes : bytes.slice(0, s.cut));
}

function hb(extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    node: 'node-a',
    incarnation: 1_700_000_000_000,
    seq: 7,
    flags: { leaving: false, apiReachable: false, rejoining: false, unfit: false },
    claimsDigest: '0011223344556677',
    claimsTotal: 0,
    chunkIndex: 0,
    chunkCount: 1,
    claims: [],
    hears: [],
    ...extra,
  };
}

const mac = (s: string): MacAddress => MacAddress.parse(s);
/** The assertions helpers need; every subtest has them. */
type Asserts = Pick<typeof t, 'fail'>;

/** Decodes, expecting a heartbeat. */
function decoded(t: Asserts, f: Uint8Array, keys: readonly HeartbeatKey[] = [KEY]): Heartbeat | undefined {
  const r = decodeHeartbeat(f, keys);
  if (!r.ok) {
    t.fail(`expected a heartbeat, dropped as ${r.reason}`);
    return undefined;
  }
  return r.heartbeat;
}

// ---------------------------------------------------------------------------
// keys, ids and digests

t.test('constants', async (t) => {
  t.equal(HEARTBEAT_ETHERTYPE, 0x88b5);
  t.equal(HEARTBEAT_VERSION, 1);
  t.equal(HEARTBEAT_MAX_FRAME, 1514);
});

t.test('HeartbeatKey: the id is the first 8 bytes of SHA-256("barelb heartbeat key\\0" || secret), in hex', async (t) => {
  t.equal(KEY.id, Buffer.from(fingerprintOf(SECRET)).toString('hex'));
  t.match(KEY.id, /^[0-9a-f]{16}$/);
  t.not(KEY.id, OLD_KEY.id);
  t.equal(HeartbeatKey.fromSecret(Buffer.from(SECRET)).id, KEY.id, 'a Buffer is a Uint8Array');
  t.equal(HeartbeatKey.fromSecret(new Uint8Array(16)).id, createHash('sha256').update('barelb heartbeat key\0').update(new Uint8Array(16)).digest('hex').slice(0, 16));
});

t.test('HeartbeatKey: rejects short secrets, copies its input, never shows the secret', async (t) => {
  for (const n of [0, 1, 15]) {
    t.throws(() => HeartbeatKey.fromSecret(new Uint8Array(n)), InvalidHeartbeatKeyError, `${n} bytes`);
  }
  t.throws(() => HeartbeatKey.fromSecret('0123456789abcdef0123' as unknown as Uint8Array), { code: 'BARELB_INVALID_HEARTBEAT_KEY' }, 'a string is not bytes');
  t.equal(new InvalidHeartbeatKeyError(3).code, 'BARELB_INVALID_HEARTBEAT_KEY');
  t.ok(new InvalidHeartbeatKeyError(3) instanceof Error);

  const secret = Uint8Array.from(SECRET);
  const key = HeartbeatKey.fromSecret(secret);
  const f = encodeHeartbeat(hb(), mac(SRC), key);
  secret.fill(0);
  t.ok(decodeHeartbeat(f, [KEY]).ok, 'changing the input after the fact changes nothing');
  t.same(Buffer.from(encodeHeartbeat(hb(), mac(SRC), key)), Buffer.from(f));

  const shown = [inspect(key, { showHidden: true, depth: 5 }), JSON.stringify(key), String(key), `${key}`];
  const secretText = Buffer.from(SECRET).toString();
  for (const s of shown) {
    t.notOk(s.includes(secretText) || s.includes('48, 49, 50') || s.includes(Buffer.from(SECRET).toString('hex')), `not in ${s}`);
  }
  t.equal(String(key), `HeartbeatKey(${KEY.id})`);
});

t.test('nodeId is 32-bit FNV-1a of the UTF-8 name', async (t) => {
  t.equal(nodeId(''), 0x811c9dc5);
  t.equal(nodeId('a'), 0xe40c292c);
  t.equal(nodeId('foobar'), 0xbf9cf968);
  const fnv = (bytes: Iterable<number>): number => {
    let h = 0x811c9dc5n;
    for (const b of bytes) h = ((h ^ BigInt(b)) * 0x01000193n) & 0xffffffffn;
    return Number(h);
  };
  t.equal(nodeId('nœud-ü-😀'), fnv(Buffer.from('nœud-ü-😀')), 'bytes, not code units');
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
      const id = nodeId(s);
      return Number.isInteger(id) && id >= 0 && id <= 0xffffffff && id === fnv(Buffer.from(s));
    }),
  );
});

t.test('claimsDigest: SHA-256 of the sorted canonical list joined by newlines, first 8 bytes', async (t) => {
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
  t.equal(claimsDigest([]), 'e3b0c44298fc1c14', 'the empty list');
  t.equal(claimsDigest(['192.0.2.1']), sha('192.0.2.1'));
  t.equal(claimsDigest(['198.51.100.7', '192.0.2.1', '2001:db8::1']), sha('192.0.2.1\n198.51.100.7\n2001:db8::1'));
  t.equal(
    claimsDigest(['2001:DB8:0::1', ' 192.0.2.1', '192.0.2.1', '198.51.100.7', '2001:db8::1']),
    claimsDigest(['192.0.2.1', '198.51.100.7', '2001:db8::1']),
    'spellings and duplicates do not matter',
  );
  t.not(claimsDigest(['192.0.2.1']), claimsDigest(['192.0.2.2']));
  t.throws(() => claimsDigest(['192.0.2.1', 'not an ip']), InvalidIpError);
});

const ipArb: fc.Arbitrary<string> = fc.oneof(
  fc.nat({ max: 0xffffffff }).map((v) => IpAddress.fromValue('IPv4', BigInt(v)).toString()),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IpAddress.fromValue('IPv6', v).toString()),
  // few distinct values, so duplicates happen
  fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1', '::', '0.0.0.0', '::ffff:192.0.2.1'),
);

t.test('claimsDigest: the same set in any order, with duplicates, digests alike (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(ipArb, { maxLength: 40 }), fc.array(fc.nat()), (ips, perm) => {
      const shuffled = [...ips, ...ips.slice(0, perm.length % (ips.length + 1))];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (perm[i % Math.max(perm.length, 1)] ?? 0) % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
      }
      const d = claimsDigest(ips);
      return /^[0-9a-f]{16}$/.test(d) && claimsDigest(shuffled) === d;
    }),
  );
  t.pass('order-independent');
});

// ---------------------------------------------------------------------------
// claimChunks

/** A name of exactly 253 UTF-8 bytes made of `ch` (padded with 'a'). */
const maxName = (ch: string): string => {
  const n = Buffer.byteLength(ch);
  return ch.repeat(Math.floor(253 / n)) + 'a'.repeat(253 % n);
};

t.test('claimChunks: sorted, deduplicated, canonical; one empty chunk for no claims', async (t) => {
  t.same(claimChunks([], 'node-a', 0), [[]]);
  t.same(claimChunks(['198.51.100.7', '2001:DB8::1', '192.0.2.1', '192.0.2.1'], 'node-a', 3), [['192.0.2.1', '198.51.100.7', '2001:db8::1']]);
  t.throws(() => claimChunks(['x'], 'node-a', 0), InvalidIpError);
});

t.test('claimChunks: fills frames to exactly HEARTBEAT_MAX_FRAME', async (t) => {
  // header: 14 + 61 + name + 4 * hears, then 5 bytes a v4 claim, 17 a v6 one
  const name = maxName('a');
  const room = 1514 - 14 - 61 - 253;
  const v4s = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`);
  const chunks = claimChunks(v4s, name, 0);
  t.equal(chunks[0]?.length, Math.floor(room / 5));
  t.equal(chunks.length, Math.ceil(1000 / Math.floor(room / 5)));
  const frames = chunks.map((c, i) =>
    encodeHeartbeat(hb({ node: name, claims: c, claimsTotal: 1000, chunkIndex: i, chunkCount: chunks.length }), mac(SRC), KEY),
  );
  t.equal(frames[0]?.length, 14 + 61 + 253 + 5 * Math.floor(room / 5));
  t.ok(frames.every((f) => f.length <= HEARTBEAT_MAX_FRAME));
  // a header that leaves exactly one v6 claim of room
  const hears = Math.floor((room - 17) / 4);
  const v6chunks = claimChunks(['2001:db8::1', '2001:db8::2'], name, hears);
  t.same(v6chunks, [['2001:db8::1'], ['2001:db8::2']], `${hears} hears leave room for one v6 claim`);
  t.throws(() => claimChunks(['2001:db8::1'], name, hears + 1), HeartbeatEncodeError, 'no room at all');
  t.throws(() => claimChunks([], name, hears + 1), { code: 'BARELB_HEARTBEAT_ENCODE' }, 'no room even when there is nothing to send');
});

t.test('claimChunks: rejects bad names and hears counts', async (t) => {
  for (const [node, hears] of [['', 0], ['a'.repeat(254), 0], ['ok', -1], ['ok', 1.5], ['ok', 0x10000], ['ok', NaN]] as const) {
    t.throws(() => claimChunks([], node, hears), HeartbeatEncodeError, `${JSON.stringify(node).slice(0, 20)} ${hears}`);
  }
});

t.test('claimChunks: every chunk encodes within HEARTBEAT_MAX_FRAME and the chunks are the input set (property)', async (t) => {
  const nodeArb = fc.oneof(fc.constantFrom('n', 'worker-1', maxName('a'), maxName('é'), maxName('€'), maxName('😀')), fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/\p{Cc}/u.test(s)));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.array(ipArb, { maxLength: 700 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IpAddress.fromValue('IPv6', v).toString()), { maxLength: 300 }),
      ),
      nodeArb,
      fc.nat(200),
      (ips, node, hearsCount) => {
        const chunks = claimChunks(ips, node, hearsCount);
        const want = [...new Set(ips.map((ip) => IpAddress.parse(ip).toString()))].sort();
        const got = chunks.flat();
        if (chunks.length < 1 || !isDeepStrictEqual(got, want)) return false;
        if (chunks.some((c, i) => c.length === 0 && !(i === 0 && chunks.length === 1))) return false;
        const hears = Array.from({ length: hearsCount }, (_, i) => (i * 2654435761) >>> 0);
        return chunks.every((claims, i) => {
          const f = encodeHeartbeat(
            hb({ node, hears, claims, claimsTotal: want.length, chunkIndex: i, chunkCount: chunks.length, claimsDigest: claimsDigest(ips) }),
            mac(SRC),
            KEY,
          );
          const back = decodeHeartbeat(f, [KEY]);
          return f.length <= HEARTBEAT_MAX_FRAME && back.ok && isDeepStrictEqual(back.heartbeat.claims, claims);
        });
      },
    ),
    { numRuns: 150 },
  );
  t.pass('chunks fit and cover');
});

// ---------------------------------------------------------------------------
// encode

t.test('encodes byte for byte as the layout says', async (t) => {
  const h = hb({
    node: 'worker-ü',
    incarnation: 2 ** 53 - 1,
    seq: 0xfffffffe,
    flags: { leaving: true, apiReachable: false, rejoining: true, unfit: false },
    claimsDigest: 'fedcba9876543210',
    claimsTotal: 70000,
    chunkIndex: 2,
    chunkCount: 3,
    claims: ['192.0.2.1', '2001:DB8::ff'],
    hears: [0, 0xffffffff, nodeId('node-b')],
  });
  const out = encodeHeartbeat(h, mac(SRC), KEY);
  const want = frame({
    name: 'worker-ü',
    incarnation: 2n ** 53n - 1n,
    seq: 0xfffffffe,
    flags: 0b101,
    digest: 'fedcba9876543210',
    total: 70000,
    index: 2,
    count: 3,
    claims: [v4('192.0.2.1'), v6('2001:db8::ff')],
    hears: [0, 0xffffffff, nodeId('node-b')],
  });
  t.same(Buffer.from(out).toString('hex'), Buffer.from(want).toString('hex'));
  t.equal(out.length, 14 + 61 + Buffer.byteLength('worker-ü') + 12 + 5 + 17);
  t.same([...out.subarray(0, 14)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...macBytes(SRC), 0x88, 0xb5], 'broadcast from srcMac, type 0x88B5');
  t.same([...out.subarray(14, 18)], [0x42, 0x4c, 1, 0b101], '"BL", version, flags');
  const smallest = encodeHeartbeat(hb({ node: 'x' }), mac(SRC), KEY);
  t.equal(smallest.length, 76, 'the smallest frame is above the 60-byte minimum: never padded');
  t.same(Buffer.from(smallest), Buffer.from(frame({ name: 'x' })));
});

t.test('flags: each bit on its own', async (t) => {
  const rows: [flags: Heartbeat['flags'], bits: number][] = [
    [{ leaving: false, apiReachable: false, rejoining: false, unfit: false }, 0],
    [{ leaving: true, apiReachable: false, rejoining: false, unfit: false }, 1],
    [{ leaving: false, apiReachable: true, rejoining: false, unfit: false }, 2],
    [{ leaving: false, apiReachable: false, rejoining: true, unfit: false }, 4],
    [{ leaving: false, apiReachable: false, rejoining: false, unfit: true }, 8],
    [{ leaving: true, apiReachable: true, rejoining: true, unfit: true }, 15],
  ];
  for (const [flags, bits] of rows) {
    const out = encodeHeartbeat(hb({ flags }), mac(SRC), KEY);
    t.equal(out[17], bits, JSON.stringify(flags));
    t.same(decoded(t, out)?.flags, flags);
    t.same(decoded(t, frame({ flags: bits }))?.flags, flags, 'built by hand');
  }
});

const FULL_CLAIMS = ['192.0.2.1', ...Array.from({ length: 69 }, (_, i) => `2001:db8::${i + 1}`)];

t.test('refuses to encode fields out of range, with BARELB_HEARTBEAT_ENCODE', async (t) => {
  const rows: [what: string, h: Heartbeat][] = [
    ['empty name', hb({ node: '' })],
    ['254-byte name', hb({ node: 'a'.repeat(254) })],
    ['a 253-byte name one multibyte character over', hb({ node: maxName('a').slice(1) + 'é' })],
    ['a name with a newline', hb({ node: 'node\na' })],
    ['a name with NUL', hb({ node: 'node\0' })],
    ['a name with DEL', hb({ node: 'node\u007f' })],
    ['a name with a C1 control', hb({ node: 'node\u0085' })],
    ['a lone surrogate', hb({ node: 'node\ud800' })],
    ['a name that is not a string', hb({ node: undefined as unknown as string })],
    ['negative incarnation', hb({ incarnation: -1 })],
    ['incarnation 2^53', hb({ incarnation: 2 ** 53 })],
    ['fractional incarnation', hb({ incarnation: 1.5 })],
    ['NaN incarnation', hb({ incarnation: NaN })],
    ['seq 2^32', hb({ seq: 2 ** 32 })],
    ['seq -1', hb({ seq: -1 })],
    ['claimsTotal 2^32', hb({ claimsTotal: 2 ** 32 })],
    ['chunkCount 0', hb({ chunkCount: 0 })],
    ['chunkCount 65536', hb({ chunkCount: 65536, chunkIndex: 0 })],
    ['chunkIndex = chunkCount', hb({ chunkIndex: 1, chunkCount: 1 })],
    ['chunkIndex -1', hb({ chunkIndex: -1 })],
    ['short digest', hb({ claimsDigest: '0011' })],
    ['upper-case digest', hb({ claimsDigest: 'AABBCCDDEEFF0011' })],
    ['digest not hex', hb({ claimsDigest: '00112233445566zz' })],
    ['more claims than the total', hb({ claims: ['192.0.2.1'], claimsTotal: 0 })],
    ['a claim that is not an IP', hb({ claims: ['192.0.2.300'], claimsTotal: 1 })],
    ['a hears entry above u32', hb({ hears: [2 ** 32] })],
    ['a negative hears entry', hb({ hears: [-1] })],
    ['65536 hears', hb({ hears: new Array<number>(65536).fill(1) })],
    ['4 bytes over the MTU', hb({ node: maxName('a'), claims: FULL_CLAIMS, claimsTotal: 70, hears: [1, 2, 3] })],
  ];
  for (const [what, h] of rows) {
    t.throws(() => encodeHeartbeat(h, mac(SRC), KEY), { code: 'BARELB_HEARTBEAT_ENCODE', name: 'HeartbeatEncodeError' }, what);
  }
  // the last row minus one hears entry: 14 + 61 + 253 + 69 * 17 + 5 + 2 * 4 = 1514 bytes
  const full = encodeHeartbeat(hb({ node: maxName('a'), claims: FULL_CLAIMS, claimsTotal: 70, hears: [1, 2] }), mac(SRC), KEY);
  t.equal(full.length, HEARTBEAT_MAX_FRAME, 'exactly the limit');
  t.ok(decodeHeartbeat(full, [KEY]).ok);
  t.throws(() => encodeHeartbeat(hb(), mac(SRC), {} as HeartbeatKey), TypeError, 'a key that did not come from fromSecret');
  t.ok(new HeartbeatEncodeError('x') instanceof Error);
});

t.test('claims may be any spelling; they decode canonical', async (t) => {
  const out = encodeHeartbeat(hb({ claims: ['2001:DB8:0:0::1', ' 192.0.2.1 ', '::ffff:192.0.2.1'], claimsTotal: 3 }), mac(SRC), KEY);
  t.same(decoded(t, out)?.claims, ['2001:db8::1', '192.0.2.1', '::ffff:c000:201']);
});

// ---------------------------------------------------------------------------
// decode

t.test('decodes a hand-built frame to its fields', async (t) => {
  const f = frame({
    src: '52:54:00:12:34:56',
    name: 'nœud-1',
    incarnation: 0x001f_ffff_ffff_ffffn,
    seq: 0xffffffff,
    flags: 2,
    digest: 'a0b1c2d3e4f50617',
    total: 4,
    index: 65534,
    count: 65535,
    hears: [1, 0x80000000],
    claims: [v4('0.0.0.0'), v6('::'), v4('255.255.255.255'), v6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')],
  });
  const r = decodeHeartbeat(f, [KEY]);
  t.same(r, {
    ok: true,
    heartbeat: {
      node: 'nœud-1',
      incarnation: 2 ** 53 - 1,
      seq: 0xffffffff,
      flags: { leaving: false, apiReachable: true, rejoining: false, unfit: false },
      claimsDigest: 'a0b1c2d3e4f50617',
      claimsTotal: 4,
      chunkIndex: 65534,
      chunkCount: 65535,
      claims: ['0.0.0.0', '::', '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      hears: [1, 0x80000000],
    },
    srcMac: mac('52:54:00:12:34:56'),
    keyId: KEY.id,
  });
  if (r.ok) t.ok(r.srcMac.equals(mac('52:54:00:12:34:56')));
  t.ok(decodeHeartbeat(frame({ dst: '02:00:00:00:00:09' }), [KEY]).ok, 'the destination is not checked (unicast heartbeats decode too)');
  t.equal(decoded(t, frame({ name: [0xef, 0xbb, 0xbf, 0x61] }))?.node, '\ufeffa', 'a leading BOM is part of the name');
  t.equal(decoded(t, frame({ name: 'a'.repeat(253) }))?.node.length, 253, '253-byte names');
});

t.test('a single 802.1Q tag is understood; the tag is not authenticated', async (t) => {
  for (const tci of [0, 5, 0xe000 | 300, 0xffff]) {
    t.equal(decoded(t, frame({ tci }))?.node, 'node-a', `tci 0x${tci.toString(16)}`);
  }
  // a frame the encoder made, tagged on the way (as a switch or a VLAN interface would)
  const out = encodeHeartbeat(hb({ claims: ['2001:db8::1'], claimsTotal: 1 }), mac(SRC), KEY);
  const tagged = Uint8Array.from([...out.subarray(0, 12), 0x81, 0x00, 0x00, 0x2a, ...out.subarray(12)]);
  t.same(decoded(t, tagged)?.claims, ['2001:db8::1']);
  t.same(decodeHeartbeat(frame({ tci: 5, ethertype: 0x8100 }), [KEY]), { ok: false, reason: 'not-heartbeat' }, 'QinQ is not understood');
  t.same(decodeHeartbeat(frame({ tci: 5, tpid: 0x88a8 }), [KEY]), { ok: false, reason: 'not-heartbeat' }, '802.1ad is not understood');
});

t.test('key rotation: a frame signed with the old key verifies when keys = [new, old]', async (t) => {
  const typical = hb({
    node: 'worker-3',
    incarnation: Date.UTC(2025, 0, 2),
    seq: 12345,
    flags: { leaving: false, apiReachable: true, rejoining: false, unfit: false },
    claimsDigest: claimsDigest(['192.0.2.10', '192.0.2.11']),
    claimsTotal: 2,
    claims: ['192.0.2.10', '192.0.2.11'],
    hears: [nodeId('worker-1'), nodeId('worker-2')],
  });
  const byOld = encodeHeartbeat(typical, mac(SRC), OLD_KEY);
  const byNew = encodeHeartbeat(typical, mac(SRC), KEY);
  const both = [KEY, OLD_KEY];
  const r = decodeHeartbeat(byOld, both);
  t.ok(r.ok && isDeepStrictEqual(r.heartbeat, typical), 'the old key verifies');
  t.equal(r.ok && r.keyId, OLD_KEY.id, 'and is named');
  const n = decodeHeartbeat(byNew, both);
  t.ok(n.ok && isDeepStrictEqual(n.heartbeat, typical), 'the new key verifies');
  t.equal(n.ok && n.keyId, KEY.id);
  t.same(decodeHeartbeat(byOld, [KEY]), { ok: false, reason: 'other-cluster' }, 'the old key, once dropped, is another cluster');
  t.same(decodeHeartbeat(byOld, []), { ok: false, reason: 'other-cluster' }, 'no keys: nothing verifies');
  t.ok(decodeHeartbeat(byOld, [OLD_KEY, OLD_KEY]).ok, 'a key listed twice');
  t.ok(decodeHeartbeat(byOld, [{} as HeartbeatKey, OLD_KEY]).ok, 'a bogus key object is skipped, not thrown on');
});

t.test('wrong key: other-cluster; right fingerprint, wrong secret: unauthenticated', async (t) => {
  const f = encodeHeartbeat(hb(), mac(SRC), OTHER_KEY);
  t.same(decodeHeartbeat(f, [KEY, OLD_KEY]), { ok: false, reason: 'other-cluster' });
  // an attacker who knows the public fingerprint, not the secret
  const forged = frame({ fingerprint: fingerprintOf(SECRET), secret: OTHER_SECRET });
  t.same(decodeHeartbeat(forged, [KEY]), { ok: false, reason: 'unauthenticated' });
  t.same(decodeHeartbeat(frame({ sign: false }), [KEY]), { ok: false, reason: 'unauthenticated' }, 'a zero MAC');
});

t.test('drops every bad frame with the reason', async (t) => {
  const good = frame({ claims: [v4('192.0.2.1'), v6('2001:db8::1')], hears: [1, 2] });
  const rows: [what: string, f: Uint8Array, reason: HeartbeatDropReason][] = [
    ['empty', new Uint8Array(0), 'short'],
    ['13 bytes', good.subarray(0, 13), 'short'],
    ['cut in the VLAN tag', frame({ tci: 5, cut: 17 }), 'short'],
    ['Ethernet header only', good.subarray(0, 14), 'short'],
    ['one byte short of the smallest heartbeat', frame({ name: 'x', cut: 75 }), 'short'],
    ['tagged, one byte short', frame({ tci: 5, name: 'x', cut: 79 }), 'short'],
    ['ARP', frame({ ethertype: 0x0806 }), 'not-heartbeat'],
    ['IPv4', frame({ ethertype: 0x0800, cut: 14 }), 'not-heartbeat'],
    ['tagged ARP', frame({ tci: 5, ethertype: 0x0806 }), 'not-heartbeat'],
    ['bad magic', frame({ magic: [0x42, 0x4d] }), 'not-heartbeat'],
    ['bad magic, first byte', frame({ magic: [0x00, 0x4c] }), 'not-heartbeat'],
    ['version 0', frame({ version: 0 }), 'version'],
    ['version 2', frame({ version: 2 }), 'version'],
    ['multicast source MAC', frame({ src: '01:00:5e:00:00:01' }), 'own-mac-multicast'],
    ['broadcast source MAC', frame({ src: 'ff:ff:ff:ff:ff:ff' }), 'own-mac-multicast'],
    ['another cluster', frame({ secret: OTHER_SECRET }), 'other-cluster'],
    ['a fingerprint of zeros', frame({ fingerprint: new Array<number>(8).fill(0) }), 'other-cluster'],
    ['unsigned', frame({ sign: false }), 'unauthenticated'],
    ['signed by someone else under our fingerprint', frame({ secret: OTHER_SECRET, fingerprint: fingerprintOf(SECRET) }), 'unauthenticated'],
    ['a byte after the MAC', frame({ after: [0] }), 'unauthenticated'],
    ['cut by one byte', good.subarray(0, good.length - 1), 'unauthenticated'],
    ['unsigned with a bad structure', frame({ sign: false, nameLength: 250 }), 'unauthenticated'],
    // signed, broken structure
    ['reserved flag bit 4', frame({ flags: 16 }), 'malformed'],
    ['reserved flag bit 7', frame({ flags: 0x80 }), 'malformed'],
    ['all flag bits', frame({ flags: 0xff }), 'malformed'],
    ['incarnation 2^53', frame({ incarnation: 2n ** 53n }), 'malformed'],
    ['incarnation 2^64-1', frame({ incarnation: 2n ** 64n - 1n }), 'malformed'],
    ['chunkCount 0', frame({ index: 0, count: 0 }), 'malformed'],
    ['chunkIndex = chunkCount', frame({ index: 3, count: 3 }), 'malformed'],
    ['chunkIndex > chunkCount', frame({ index: 0xffff, count: 1 }), 'malformed'],
    ['empty name', frame({ name: [], extra: [0] }), 'malformed'],
    ['254-byte name', frame({ name: 'a'.repeat(254) }), 'malformed'],
    ['255-byte name', frame({ name: 'a'.repeat(255) }), 'malformed'],
    ['name length past the end', frame({ nameLength: 200 }), 'malformed'],
    ['name length leaves no room for the hears count', frame({ name: 'node-a', nameLength: 9 }), 'malformed'],
    ['invalid UTF-8 name', frame({ name: [0x6e, 0xff, 0x6e] }), 'malformed'],
    ['truncated UTF-8 name', frame({ name: [0x6e, 0xc3] }), 'malformed'],
    ['overlong UTF-8 name', frame({ name: [0xc0, 0xaf] }), 'malformed'],
    ['UTF-8 surrogate in the name', frame({ name: [0xed, 0xa0, 0x80] }), 'malformed'],
    ['NUL in the name', frame({ name: [0x6e, 0x00] }), 'malformed'],
    ['newline in the name', frame({ name: 'a\nb' }), 'malformed'],
    ['DEL in the name', frame({ name: 'a\u007f' }), 'malformed'],
    ['C1 control in the name', frame({ name: 'a\u0085' }), 'malformed'],
    ['hears count past the end', frame({ hears: [1], hearsCount: 2 }), 'malformed'],
    ['hears count 65535', frame({ hearsCount: 0xffff }), 'malformed'],
    ['hears leave no room for the claims count', frame({ name: 'n', hears: [1], noClaimsCount: true }), 'malformed'],
    ['hears end one byte into the claims count', frame({ name: 'n', hears: [1], noClaimsCount: true, extra: [0] }), 'malformed'],
    ['claims count past the end', frame({ claims: [v4('192.0.2.1')], claimsCount: 2, total: 5 }), 'malformed'],
    ['claims count above claimsTotal', frame({ claims: [v4('192.0.2.1'), v4('192.0.2.2')], total: 1 }), 'malformed'],
    ['family byte 0', frame({ claims: [[0, 192, 0, 2, 1]] }), 'malformed'],
    ['family byte 5', frame({ claims: [[5, 192, 0, 2, 1]] }), 'malformed'],
    ['family byte 41 (an IPv6 next header, not ours)', frame({ claims: [[41, ...v6('::1').slice(1)]] }), 'malformed'],
    ['a v6 claim cut short', frame({ claims: [v6('2001:db8::1').slice(0, 10)] }), 'malformed'],
    ['a v4 claim cut short', frame({ claims: [v4('192.0.2.1').slice(0, 3)] }), 'malformed'],
    ['a v4 family byte on 16 bytes', frame({ claims: [[4, ...v6('2001:db8::1').slice(1)]] }), 'malformed'],
    ['one signed byte between the claims and the MAC', frame({ extra: [0] }), 'malformed'],
    ['padding before the MAC', frame({ name: 'x', extra: new Array<number>(20).fill(0) }), 'malformed'],
  ];
  for (const [what, f, reason] of rows) {
    t.same(decodeHeartbeat(f, [KEY]), { ok: false, reason }, what);
  }
  const seen = new Set(rows.map((r) => r[2]));
  t.same(HEARTBEAT_DROP_REASONS.filter((r) => !seen.has(r)), [], 'every drop reason has a row');
  t.ok(decodeHeartbeat(good, [KEY]).ok, 'and the frame they were made from is fine');
});

t.test('truncations: every prefix of a valid frame is dropped, short or unauthenticated', async (t) => {
  for (const tci of [undefined, 7]) {
    const f = frame({ tci, claims: [v4('192.0.2.1'), v6('2001:db8::1')], hears: [1, 2, 3] });
    const p = tci === undefined ? 14 : 18;
    for (let n = 0; n < f.length; n++) {
      const want = n < 14 || n < p || n - p < 62 ? 'short' : 'unauthenticated';
      const r = decodeHeartbeat(f.subarray(0, n), [KEY]);
      if (r.ok || r.reason !== want) t.fail(`cut to ${n}: ${JSON.stringify(r)}`);
    }
  }
  t.pass('every prefix');
});

t.test('a decoded heartbeat does not alias the frame', async (t) => {
  const f = Uint8Array.from(encodeHeartbeat(hb({ claims: ['2001:db8::1'], claimsTotal: 1, hears: [9] }), mac(SRC), KEY));
  const r = decodeHeartbeat(f, [KEY]);
  const before = JSON.stringify(r);
  f.fill(0);
  t.equal(JSON.stringify(r), before);
});

// ---------------------------------------------------------------------------
// properties

const nameArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('worker-1', 'n', 'ip-10-0-0-1.ec2.internal'),
  fc.constantFrom('a', 'é', '€', '😀', 'ü').map(maxName),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((s) => !/\p{Cc}/u.test(s) && Buffer.byteLength(s) <= 253),
);
// fc.record makes null-prototype objects; isDeepStrictEqual compares prototypes
const flagsArb = fc.record({ leaving: fc.boolean(), apiReachable: fc.boolean(), rejoining: fc.boolean(), unfit: fc.boolean() }).map((f) => ({ ...f }));
const u32Arb = fc.nat({ max: 0xffffffff });

/** A valid heartbeat that fits a frame: its claims are one of claimChunks()'s chunks. */
const heartbeatArb: fc.Arbitrary<Heartbeat> = fc
  .tuple(
    nameArb,
    fc.maxSafeNat(),
    u32Arb,
    flagsArb,
    fc.array(ipArb, { maxLength: 120 }),
    fc.array(u32Arb, { maxLength: 100 }),
    fc.nat(1000),
    fc.nat(),
    fc.nat(0xfffe),
  )
  .map(([node, incarnation, seq, flags, ips, hears, extraTotal, pick, extraCount]) => {
    const chunks = claimChunks(ips, node, hears.length);
    const chunkIndex = pick % chunks.length;
    const claims = chunks[chunkIndex] as string[];
    const total = chunks.flat().length;
    return {
      node,
      incarnation,
      seq,
      flags,
      claimsDigest: claimsDigest(ips),
      claimsTotal: Math.min(total + extraTotal, 0xffffffff),
      chunkIndex,
      chunkCount: Math.min(chunks.length + extraCount, 0xffff),
      claims,
      hears,
    };
  });
const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => MacAddress.fromBytes(Uint8Array.from([(b[0] as number) & 0xfe, ...b.subarray(1)])));

t.test('round trip: random heartbeats, v4 and v6 claims, max-size names (property)', async (t) => {
  fc.assert(
    fc.property(heartbeatArb, macArb, fc.constantFrom(KEY, OLD_KEY), (h, src, key) => {
      const f = encodeHeartbeat(h, src, key);
      const r = decodeHeartbeat(f, [KEY, OLD_KEY]);
      return f.length <= HEARTBEAT_MAX_FRAME && r.ok && isDeepStrictEqual(r.heartbeat, h) && r.srcMac.equals(src) && r.keyId === key.id;
    }),
    { numRuns: 500 },
  );
  t.pass('round-tripped');
});

t.test('a flipped bit anywhere in the authenticated bytes or the MAC never verifies (property)', async (t) => {
  // offsets into the payload: 0-1 magic, 2 version, 4-11 fingerprint; everything else is MAC-checked before it is read
  const expected = (i: number): HeartbeatDropReason => (i < 2 ? 'not-heartbeat' : i === 2 ? 'version' : i >= 4 && i < 12 ? 'other-cluster' : 'unauthenticated');
  const counts = new Map<string, number>();
  fc.assert(
    fc.property(heartbeatArb, fc.nat(), fc.nat(7), fc.boolean(), (h, at, bit, tagged) => {
      let f = encodeHeartbeat(h, mac(SRC), KEY);
      if (tagged) f = Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0x00, 0x07, ...f.subarray(12)]);
      const p = tagged ? 18 : 14;
      const i = at % (f.length - p);
      f[p + i] = (f[p + i] as number) ^ (1 << bit);
      const r = decodeHeartbeat(f, [KEY, OLD_KEY]);
      const want = expected(i);
      counts.set(want, (counts.get(want) ?? 0) + 1);
      return !r.ok && r.reason === want;
    }),
    { numRuns: 1000 },
  );
  t.ok((counts.get('unauthenticated') ?? 0) > 500, `most flips land in MAC-checked bytes (${JSON.stringify([...counts])})`);
});

t.test('every single-bit flip of one typical frame past the fingerprint, and in the flags, is unauthenticated', async (t) => {
  const f = encodeHeartbeat(hb({ claims: ['192.0.2.1', '2001:db8::1'], claimsTotal: 2, hears: [1, 2] }), mac(SRC), KEY);
  const offsets = [14 + 3, ...Array.from({ length: f.length - 14 - 12 }, (_, i) => 14 + 12 + i)];
  const bad: string[] = [];
  for (const i of offsets) {
    for (let bit = 0; bit < 8; bit++) {
      const g = Uint8Array.from(f);
      g[i] = (g[i] as number) ^ (1 << bit);
      const r = decodeHeartbeat(g, [KEY]);
      if (r.ok || r.reason !== 'unauthenticated') bad.push(`byte ${i} bit ${bit}: ${r.ok ? 'ok' : r.reason}`);
    }
  }
  t.same(bad, [], `${offsets.length * 8} flips`);
});
