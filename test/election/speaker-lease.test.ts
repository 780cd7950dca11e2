import t from 'tap';
import {
  SPEAKER_LEASE_ANNOTATION,
  SPEAKER_LEASE_PREFIX,
  isLive,
  readSpeakerLease,
  speakerLeaseAnnotations,
  speakerLeaseName,
  type SpeakerLeaseView,
} from '../../src/election/speaker-lease.js';

const A = SPEAKER_LEASE_ANNOTATION;

t.test('speakerLeaseName', async (t) => {
  t.equal(SPEAKER_LEASE_PREFIX, 'barelb-speaker-');
  const rows: [node: string, want: string][] = [
    ['worker-1', 'barelb-speaker-worker-1'],
    ['node.example.com', 'barelb-speaker-node.example.com'],
    ['a', 'barelb-speaker-a'],
  ];
  for (const [node, want] of rows) t.equal(speakerLeaseName(node), want, node);
});

t.test('speakerLeaseAnnotations: sorted, deduplicated, space separated', async (t) => {
  const rows: [what: string, announces: string[], hears: string[], incarnation: number, want: Record<string, string>][] = [
    ['nothing', [], [], 0, { [A.announces]: '', [A.hears]: '', [A.incarnation]: '0', [A.segments]: '', [A.keys]: '', [A.unheard]: '' }],
    [
      'one of each',
      ['192.0.2.10'],
      ['worker-2'],
      1700000000000,
      { [A.announces]: '192.0.2.10', [A.hears]: 'worker-2', [A.incarnation]: '1700000000000', [A.segments]: '', [A.keys]: '', [A.unheard]: '' },
    ],
    [
      'unsorted with duplicates',
      ['192.0.2.20', '2001:db8::1', '192.0.2.10', '192.0.2.20'],
      ['worker-3', 'worker-1', 'worker-3', 'worker-2'],
      42,
      { [A.announces]: '192.0.2.10 192.0.2.20 2001:db8::1', [A.hears]: 'worker-1 worker-2 worker-3', [A.incarnation]: '42', [A.segments]: '', [A.keys]: '', [A.unheard]: '' },
    ],
  ];
  for (const [what, announces, hears, incarnation, want] of rows) {
    t.same(speakerLeaseAnnotations({ announces, hears }, incarnation), want, what);
  }
  // any iterable, consumed once
  const gen = function* (): Generator<string> {
    yield 'b';
    yield 'a';
  };
  t.same(speakerLeaseAnnotations({ announces: new Set(['192.0.2.2', '192.0.2.1']), hears: gen(), segments: ['198.51.100.0/24', '2001:db8::/64', '198.51.100.0/24'], unheard: [{ ifname: 'eth1', mode: 'cut-off' }, { ifname: 'eth0', mode: 'deaf' }] }, 7), {
    [A.announces]: '192.0.2.1 192.0.2.2',
    [A.hears]: 'a b',
    [A.incarnation]: '7',
    [A.segments]: '198.51.100.0/24 2001:db8::/64',
    [A.keys]: '',
    [A.unheard]: 'eth0=deaf eth1=cut-off',
  });
});

t.test('readSpeakerLease reads back what speakerLeaseAnnotations wrote', async (t) => {
  const renewTime = new Date('2024-05-01T12:00:00.000Z');
  const view = readSpeakerLease({
    metadata: { name: speakerLeaseName('worker-1'), annotations: speakerLeaseAnnotations({ announces: ['192.0.2.20', '2001:db8::1', '192.0.2.10'], hears: ['worker-2'], segments: ['203.0.113.0/24', '198.51.100.0/24'], keys: ['aaaaaaaaaaaaaaaa', '0000000000000000'], unheard: [{ ifname: 'eth0', mode: 'deaf' }] }, 5) },
    spec: { holderIdentity: 'worker-1', renewTime, leaseDurationSeconds: 10 },
  });
  t.same(view, {
    node: 'worker-1',
    announces: ['192.0.2.10', '192.0.2.20', '2001:db8::1'],
    hears: ['worker-2'],
    segments: ['198.51.100.0/24', '203.0.113.0/24'],
    keys: ['aaaaaaaaaaaaaaaa', '0000000000000000'],
    unheard: [{ ifname: 'eth0', mode: 'deaf' }],
    renewMs: renewTime.getTime(),
    durationSeconds: 10,
  });
});

t.test('readSpeakerLease', async (t) => {
  type Lease = Parameters<typeof readSpeakerLease>[0];
  const name = speakerLeaseName('worker-1');
  const rows: [what: string, lease: Lease, want: SpeakerLeaseView | undefined][] = [
    ['no metadata', {}, undefined],
    ['no name', { metadata: {} }, undefined],
    ['the controller election Lease', { metadata: { name: 'barelb-controller' }, spec: { holderIdentity: 'x' } }, undefined],
    ['a Lease that only contains the prefix', { metadata: { name: `kube-${name}` } }, undefined],
    ['a node Lease', { metadata: { name: 'worker-1', annotations: { [A.announces]: '192.0.2.1' } } }, undefined],
    [
      'name only: the node comes from the name, nothing else is said',
      { metadata: { name } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'an empty holderIdentity falls back to the name',
      { metadata: { name }, spec: { holderIdentity: '' } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'holderIdentity wins over the name',
      { metadata: { name }, spec: { holderIdentity: 'worker-1.example.com' } },
      { node: 'worker-1.example.com', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'malformed addresses are skipped, the rest canonicalized; extra whitespace ignored',
      { metadata: { name, annotations: { [A.announces]: '  192.0.2.1  not-an-ip\t2001:DB8:0::1 192.0.2.999 10.0.0 \n 198.51.100.7 ', [A.hears]: ' b  a ' } } },
      { node: 'worker-1', announces: ['192.0.2.1', '2001:db8::1', '198.51.100.7'], hears: ['b', 'a'], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'renewTime as a Date (a deserialized object)',
      { metadata: { name }, spec: { renewTime: new Date('2024-05-01T12:00:00.250Z'), leaseDurationSeconds: 15 } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: Date.UTC(2024, 4, 1, 12, 0, 0, 250), durationSeconds: 15 },
    ],
    [
      'renewTime as a string (raw JSON), MicroTime precision',
      { metadata: { name }, spec: { renewTime: '2024-05-01T12:00:00.250000Z', leaseDurationSeconds: 15 } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: Date.UTC(2024, 4, 1, 12, 0, 0, 250), durationSeconds: 15 },
    ],
    [
      'an unparsable renewTime string',
      { metadata: { name }, spec: { renewTime: 'yesterday-ish' } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'an invalid Date',
      { metadata: { name }, spec: { renewTime: new Date('yesterday-ish') } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
    [
      'renewTime of another type',
      { metadata: { name }, spec: { renewTime: 1714564800000 } },
      { node: 'worker-1', announces: [], hears: [], segments: [], keys: undefined, renewMs: undefined, durationSeconds: 0 },
    ],
  ];
  for (const [what, lease, want] of rows) t.same(readSpeakerLease(lease), want, what);
});

t.test('isLive', async (t) => {
  const view = (renewMs: number | undefined, durationSeconds: number): SpeakerLeaseView => ({ node: 'n', announces: [], hears: [], segments: [], keys: undefined, renewMs, durationSeconds });
  const rows: [what: string, v: SpeakerLeaseView, nowMs: number, want: boolean][] = [
    ['just renewed', view(1_000_000, 10), 1_000_000, true],
    ['within the duration', view(1_000_000, 10), 1_009_999, true],
    ['at the end of the duration', view(1_000_000, 10), 1_010_000, true],
    ['past the duration', view(1_000_000, 10), 1_010_001, false],
    ['renewed in the future (clock skew)', view(1_000_000, 10), 900_000, true],
    ['never renewed', view(undefined, 10), 1_000_000, false],
    ['no duration: live only at the renew instant', view(1_000_000, 0), 1_000_001, false],
  ];
  for (const [what, v, nowMs, want] of rows) t.equal(isLive(v, nowMs), want, what);
});
