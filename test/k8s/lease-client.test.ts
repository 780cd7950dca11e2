import http from 'node:http';
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import t from 'tap';
import { isConflict } from '../../src/k8s/api-error.js';
import { LeaseClient } from '../../src/k8s/lease-client.js';
import { loopbackKubeConfig } from './scripted-api.js';

// LeaseClient against a scripted API server on loopback that keeps one Lease and checks resourceVersion
// the way the real one does: a write with a stale version is a 409.
let stored: V1Lease | undefined;
let version = 0;
const bodies: V1Lease[] = [];
const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (d: Buffer) => (raw += d.toString()));
  req.on('end', () => {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET') return stored ? send(200, stored) : send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
    const body = JSON.parse(raw) as V1Lease;
    bodies.push(body);
    if (req.method === 'POST') {
      if (stored) return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
    } else if (body.metadata?.resourceVersion !== stored?.metadata?.resourceVersion) {
      return send(409, { kind: 'Status', code: 409, reason: 'Conflict' });
    }
    stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++version) } };
    send(req.method === 'POST' ? 201 : 200, stored);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => server.close());

const kc = loopbackKubeConfig(server);
const lease = new LeaseClient(kc.makeApiClient(CoordinationV1Api), 'barelb-system', 'barelb-controller');

t.test('get, create, renew, take over and release, compare-and-swap on resourceVersion', async (t) => {
  t.equal(await lease.get(), undefined, 'missing: undefined, not an error');
  const created = await lease.create('a', 15);
  t.same([created.record.holder, created.record.durationSeconds, created.record.version], ['a', 15, '1']);
  const renewed = await lease.write(created, 'a', 15);
  t.equal(renewed.record.version, '2');
  t.equal(bodies.at(-1)?.spec?.leaseTransitions, 0, 'a renewal is no transition');
  const stale = await lease.write(created, 'b', 15).catch((e: unknown) => e);
  t.ok(isConflict(stale), 'a write on an old version is a 409');
  const taken = await lease.write((await lease.get())!, 'b', 15);
  t.equal(taken.record.holder, 'b');
  t.equal(bodies.at(-1)?.spec?.leaseTransitions, 1, 'a takeover counts a transition');
  t.ok(bodies.at(-1)?.spec?.acquireTime, 'and sets acquireTime');
  const released = await lease.write(taken, undefined, 1);
  t.equal(released.record.holder, undefined, 'released: no holder');
  t.equal(bodies.at(-1)?.spec?.renewTime, undefined, 'and no renewTime');
  const again = await lease.create('c', 15).catch((e: unknown) => e);
  t.ok(isConflict(again), 'create on an existing Lease is a 409');
});
