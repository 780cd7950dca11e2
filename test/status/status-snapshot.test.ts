import t from 'tap';
import { V1MicroTime, type CoreV1Event, type V1Lease } from '@kubernetes/client-node';
import { toEventView, toLeaseView } from '../../src/status/status-snapshot.js';

const T = Date.parse('2026-01-01T12:00:00.123Z');

t.test('toLeaseView keeps what readSpeakerLease needs, times from a list (Date) or raw JSON (string)', async (t) => {
  const announces = { 'barelb.io/announces': '198.51.100.200', 'barelb.io/hears': 'node2', 'barelb.io/incarnation': '7' };
  const rows: [string, V1Lease, ReturnType<typeof toLeaseView>][] = [
    [
      'deserialized',
      {
        metadata: { name: 'barelb-speaker-node1', annotations: announces },
        spec: { holderIdentity: 'node1', acquireTime: new V1MicroTime(T - 1000), renewTime: new V1MicroTime(T), leaseDurationSeconds: 30 },
      },
      { name: 'barelb-speaker-node1', annotations: announces, holder: 'node1', renewMs: T, durationSeconds: 30 },
    ],
    [
      'raw JSON',
      { metadata: { name: 'x' }, spec: { holderIdentity: 'node2', renewTime: '2026-01-01T12:00:00.123000Z' as unknown as V1MicroTime, leaseDurationSeconds: 30 } },
      { name: 'x', annotations: {}, holder: 'node2', renewMs: T, durationSeconds: 30 },
    ],
    ['no holder, no times, no duration: never live', { metadata: { name: 'y' }, spec: { holderIdentity: '' } }, { name: 'y', annotations: {}, holder: undefined, renewMs: undefined, durationSeconds: 0 }],
    ['garbage time', { metadata: { name: 'z' }, spec: { renewTime: 'yesterday' as unknown as V1MicroTime } }, { name: 'z', annotations: {}, holder: undefined, renewMs: undefined, durationSeconds: 0 }],
  ];
  for (const [name, lease, want] of rows) t.same(toLeaseView(lease), want, name);
});

t.test('toEventView takes the last time the Event happened', async (t) => {
  const base: CoreV1Event = {
    metadata: { name: 'e', namespace: 'shop', creationTimestamp: new Date(T - 9000) },
    involvedObject: { kind: 'Service', name: 'web', uid: 'u1' },
    type: 'Warning',
    reason: 'AllocationFailed',
    message: 'm',
  };
  const rows: [string, Partial<CoreV1Event>, number][] = [
    ['lastTimestamp first', { lastTimestamp: new Date(T), firstTimestamp: new Date(T - 5000), eventTime: new V1MicroTime(T - 1000) }, T],
    ['then eventTime', { eventTime: new V1MicroTime(T - 1000), firstTimestamp: new Date(T - 5000) }, T - 1000],
    ['then firstTimestamp', { firstTimestamp: new Date(T - 5000) }, T - 5000],
    ['then creation', {}, T - 9000],
  ];
  for (const [name, extra, lastMs] of rows) {
    t.same(toEventView({ ...base, ...extra }), { kind: 'Service', namespace: 'shop', name: 'web', uid: 'u1', type: 'Warning', reason: 'AllocationFailed', message: 'm', lastMs }, name);
  }
});
