import t from 'tap';
import { Registry, Counter } from 'prom-client';
import { pino } from 'pino';
import { parseListenAddress, startHttpServer } from '../../src/observability/http-server.js';

t.test('listen addresses', async (t) => {
  t.same(parseListenAddress('0.0.0.0:7472'), { host: '0.0.0.0', port: 7472 });
  t.same(parseListenAddress(':7472'), { host: '0.0.0.0', port: 7472 });
  t.same(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
  for (const bad of ['7472', 'host:99999', 'a:b']) t.throws(() => parseListenAddress(bad), /HOST:PORT/);
});

t.test('serves metrics and probes on loopback', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'barelb_test_total', help: 'x', registers: [registry] }).inc(3);
  let ready = false;
  const server = await startHttpServer('127.0.0.1:0', registry, { healthy: () => true, ready: () => ready }, pino({ level: 'silent' }));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const base = `http://127.0.0.1:${port}`;
  t.match(await (await fetch(`${base}/metrics`)).text(), /barelb_test_total 3/);
  t.equal((await fetch(`${base}/healthz`)).status, 200);
  t.equal((await fetch(`${base}/readyz`)).status, 503);
  ready = true;
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  t.equal((await fetch(`${base}/nope`)).status, 404);
});
