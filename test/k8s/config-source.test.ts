import http from 'node:http';
import { pino } from 'pino';
import t from 'tap';
import { openConfigSource, type ConfigSource } from '../../src/k8s/config-source.js';
import { applyRequestDeadlines } from '../../src/k8s/request-deadline.js';
import { loopbackKubeConfig } from './scripted-api.js';

// The config sources against a scripted API server on loopback: MetalLB's objects (missing, forbidden, then
// served and watched) and a ConfigMap (only its own changes count).
type Kind = 'ipaddresspools' | 'l2advertisements';
/** Per kind: how a list answers (a status code, or the objects). */
const served = new Map<Kind, number | 'ok'>([['ipaddresspools', 404], ['l2advertisements', 404]]);
const objects = new Map<Kind, object[]>([['ipaddresspools', []], ['l2advertisements', []]]);
const watches = new Map<string, http.ServerResponse>();
const configMaps: object[] = [];

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const watching = url.searchParams.get('watch') === 'true';
  const json = (code: number, body: object): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const crd = /^\/apis\/metallb\.io\/v1beta1\/namespaces\/metallb-system\/(ipaddresspools|l2advertisements)$/.exec(url.pathname);
  const cms = url.pathname === '/api/v1/namespaces/metallb-system/configmaps';
  if (!crd && !cms) return json(404, { kind: 'Status', code: 404 });
  const kind = crd?.[1] as Kind | undefined;
  const mode = kind ? served.get(kind) : 'ok';
  if (typeof mode === 'number') return json(mode, { kind: 'Status', code: mode, message: `scripted ${mode}` });
  if (!watching) return json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: kind ? objects.get(kind) : configMaps });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  watches.set(url.pathname, res);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});
const kc = applyRequestDeadlines(loopbackKubeConfig(server), 2000, 1000);

const logged: { level: number; msg: string }[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pool = (name: string, addresses: string[], rv: string) => ({
  apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: 'metallb-system', uid: `u-${name}`, resourceVersion: rv }, spec: { addresses },
});
const poolsOf = (s: ConfigSource): string[] | string => {
  const l = s.current().loaded;
  return l.ok ? l.config.pools.map((p) => `${p.name}=${p.ranges.map(String).join(',')}`) : `invalid: ${l.error.message}`;
};

t.test('metallb-crds: CRDs missing, then installed, then an object edited', async (t) => {
  const source = openConfigSource({ kubeConfig: kc, namespace: 'metallb-system', configMap: 'ignored', format: 'metallb-crds', log, recheckMaxMs: 200 });
  let changes = 0;
  source.onChange(() => changes++);
  await source.start();
  t.match(poolsOf(source), /^invalid: invalid config: ipaddresspools\.metallb\.io: the API server has no metallb\.io\/v1beta1 IPAddressPool: is MetalLB's CRD/, 'start resolves; the config is invalid and says why');
  t.match(source.current().absent, /is MetalLB's CRD \(ipaddresspools\.metallb\.io\) installed\?/);
  t.ok(logged.some((l) => l.level === 50 && /has no metallb\.io\/v1beta1 IPAddressPool/.test(l.msg)), 'logged as an error');
  t.equal(changes, 1, 'one change: now known to be unavailable');

  served.set('ipaddresspools', 'ok');
  await until('the other kind to be reported', () => /has no metallb\.io\/v1beta1 L2Advertisement/.test(String(poolsOf(source))));
  t.pass('the next missing kind is named');
  objects.set('ipaddresspools', [pool('lan', ['198.51.100.0/30'], '11')]);
  served.set('l2advertisements', 'ok');
  await until('the objects to be read', () => source.current().loaded.ok);
  t.same(poolsOf(source), ['lan=198.51.100.0-198.51.100.3'], 'read once served, without a restart');
  t.match(source.current().loaded.ok && source.current().loaded, { warnings: [{ path: 'L2Advertisement', message: /none in the input/ }] });

  await until('the watches', () => watches.has('/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools'));
  const before = changes;
  watches.get('/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools')?.write(`${JSON.stringify({ type: 'MODIFIED', object: pool('lan', ['198.51.100.8/30'], '12') })}\n`);
  await until('the edit', () => changes > before);
  t.same(poolsOf(source), ['lan=198.51.100.8-198.51.100.11'], 'an edit is read from the watch');
  await source.stop();
});

t.test('metallb-crds: forbidden says which permission is missing', async (t) => {
  served.set('ipaddresspools', 403);
  const source = openConfigSource({ kubeConfig: kc, namespace: 'metallb-system', configMap: 'ignored', format: 'metallb-crds', log, recheckMaxMs: 200 });
  await source.start();
  t.match(poolsOf(source), /barelb may not list metallb\.io\/v1beta1 ipaddresspools in metallb-system \(HTTP 403\)/);
  await source.stop();
  served.set('ipaddresspools', 'ok');
});

t.test('a ConfigMap source: only its ConfigMap counts', async (t) => {
  configMaps.push({ metadata: { name: 'config', namespace: 'metallb-system', uid: 'c1', resourceVersion: '5' }, data: { config: 'address-pools: [{name: a, protocol: layer2, addresses: [198.51.100.0/30]}]\n' } });
  const source = openConfigSource({ kubeConfig: kc, namespace: 'metallb-system', configMap: 'config', format: 'metallb', log });
  let changes = 0;
  source.onChange(() => changes++);
  await source.start();
  t.same(poolsOf(source), ['a=198.51.100.0-198.51.100.3']);
  t.same(source.current().targets, [{ kind: 'ConfigMap', namespace: 'metallb-system', name: 'config', uid: 'c1' }]);
  const path = '/api/v1/namespaces/metallb-system/configmaps';
  await until('the watch', () => watches.has(path));
  const at = changes;
  watches.get(path)?.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'other', namespace: 'metallb-system', resourceVersion: '6' } } })}\n`);
  watches.get(path)?.write(`${JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'config', namespace: 'metallb-system', resourceVersion: '7' } } })}\n`);
  await until('the delete', () => changes > at);
  t.equal(changes, at + 1, 'another ConfigMap is no change');
  t.same([poolsOf(source), source.current().absent], [[], 'no ConfigMap: no pools']);
  await source.stop();
});
