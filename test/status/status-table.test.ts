import t from 'tap';
import { statusJson } from '../../src/status/status-json.js';
import type { StatusReport } from '../../src/status/status-report.js';
import { renderStatusTable, renderTable } from '../../src/status/status-table.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

t.test('renderTable aligns columns two spaces apart without trailing blanks', async (t) => {
  t.equal(
    renderTable([
      ['A', 'LONGER', 'C'],
      ['wide-cell', 'x', 'last may be long'],
    ]),
    'A          LONGER  C\nwide-cell  x       last may be long',
  );
  t.equal(renderTable([['ONLY']]), 'ONLY');
});

const report: StatusReport = {
  nowMs: NOW,
  configMap: 'barelb-system/barelb-config',
  config: 'valid',
  inForce: undefined,
  pools: [{ name: 'lan', addresses: ['198.51.100.200-198.51.100.250'], size: 51n, used: 1n, free: 50n }],
  services: [
    { namespace: 'shop', name: 'web', addresses: [{ ip: '198.51.100.200', pool: 'lan', announcedBy: ['node2'] }] },
    { namespace: 'shop', name: 'db', addresses: [] },
    { namespace: 'shop', name: 'quiet', addresses: [{ ip: '198.51.100.201', pool: 'lan', announcedBy: [] }] },
    { namespace: 'shop', name: 'twice', addresses: [{ ip: '198.51.100.202', pool: 'lan', announcedBy: ['node1', 'node3'] }] },
  ],
  problems: [
    { kind: 'pending', object: 'shop/db', ip: undefined, reason: 'AllocationFailed', message: 'requested address 192.0.2.9 is not in any pool' },
    { kind: 'not-announced', object: 'shop/quiet', ip: '198.51.100.201', reason: undefined, message: 'no live speaker Lease lists it' },
    { kind: 'multiple-announcers', object: 'shop/twice', ip: '198.51.100.202', reason: undefined, message: 'both list it' },
  ],
};

t.test('the status table: pools, one row per Service address, problems', async (t) => {
  t.equal(
    renderStatusTable(report),
    [
      'POOL  SIZE  USED  FREE  ADDRESSES',
      'lan   51    1     50    198.51.100.200-198.51.100.250',
      '',
      'SERVICE     IP              POOL  ANNOUNCED BY',
      'shop/web    198.51.100.200  lan   node2',
      'shop/db     <pending>       -     -',
      'shop/quiet  198.51.100.201  lan   -',
      'shop/twice  198.51.100.202  lan   node1,node3',
      '',
      'PROBLEM              OBJECT      DETAIL',
      'pending              shop/db     AllocationFailed: requested address 192.0.2.9 is not in any pool',
      'not-announced        shop/quiet  no live speaker Lease lists it',
      'multiple-announcers  shop/twice  both list it',
    ].join('\n'),
  );
});

t.test('empty sections say so', async (t) => {
  const out = renderStatusTable({ ...report, config: 'invalid', pools: [], services: [], problems: [] });
  t.equal(out, 'No pools (ConfigMap barelb-system/barelb-config: invalid).\n\nNo LoadBalancer Services.\n\nNo problems.');
});

t.test('the config in force heads the table: the version, its age, whether the ConfigMap is still that version', async (t) => {
  const inForce = { object: 'barelb-system/barelb-config-in-force', source: 'barelb-system/barelb-config', sourceVersion: '812', acceptedMs: NOW - 3_723_000, current: true };
  t.match(renderStatusTable({ ...report, inForce }), /^Config in force: barelb-system\/barelb-config version 812, accepted 1h2m ago \(the ConfigMap as it is now\)\.\n\nPOOL/);
  t.match(renderStatusTable({ ...report, config: 'invalid', inForce: { ...inForce, current: false } }), /^Config in force: .* \(the ConfigMap is now another version, invalid\)\./);
  t.match(renderStatusTable({ ...report, config: 'missing', inForce: { ...inForce, current: false } }), /\(the ConfigMap is now missing\)/);
  t.same(statusJson({ ...report, inForce }).config.inForce, {
    record: 'barelb-system/barelb-config-in-force',
    source: 'barelb-system/barelb-config',
    sourceVersion: '812',
    acceptedAt: new Date(NOW - 3_723_000).toISOString(),
    current: true,
  });
});

t.test('the JSON shape: every key present, sizes as strings, several announcers comma-separated', async (t) => {
  t.same(statusJson(report), {
    generatedAt: '2026-01-01T12:00:00.000Z',
    config: { configMap: 'barelb-system/barelb-config', state: 'valid', inForce: null },
    pools: [{ name: 'lan', addresses: ['198.51.100.200-198.51.100.250'], size: '51', used: '1', free: '50' }],
    services: [
      { namespace: 'shop', name: 'web', pending: false, addresses: [{ ip: '198.51.100.200', pool: 'lan', announcedBy: 'node2' }] },
      { namespace: 'shop', name: 'db', pending: true, addresses: [] },
      { namespace: 'shop', name: 'quiet', pending: false, addresses: [{ ip: '198.51.100.201', pool: 'lan', announcedBy: null }] },
      { namespace: 'shop', name: 'twice', pending: false, addresses: [{ ip: '198.51.100.202', pool: 'lan', announcedBy: 'node1,node3' }] },
    ],
    problems: [
      { kind: 'pending', object: 'shop/db', ip: null, reason: 'AllocationFailed', message: 'requested address 192.0.2.9 is not in any pool' },
      { kind: 'not-announced', object: 'shop/quiet', ip: '198.51.100.201', reason: null, message: 'no live speaker Lease lists it' },
      { kind: 'multiple-announcers', object: 'shop/twice', ip: '198.51.100.202', reason: null, message: 'both list it' },
    ],
  });
});
