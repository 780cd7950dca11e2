import http from 'node:http';
import { CoreV1Api, type V1Namespace } from '@kubernetes/client-node';
import { pino } from 'pino';
import t from 'tap';
import { ResilientInformer } from '../../src/k8s/informer.js';
import { applyRequestDeadlines } from '../../src/k8s/request-deadline.js';
import { loopbackKubeConfig } from './scripted-api.js';

// The informer against a scripted API server on loopback: lists and watches answer as the test says.
type Mode = 'ok' | 'hang' | 403 | 429 | 500;
let listMode: Mode = 'ok';
let watchMode: Mode | 'silent' | 'events' = 'events';
const namespaces: V1Namespace[] = [{ metadata: { name: 'a', resourceVersion: '10' } }];
const watchers = new Set<http.ServerResponse>();
/** Per watch path (each test watches its own, so a late watch of an earlier test's informer is told apart). */
const watchesOpened = new Map<string, number>();
const newest = new Map<string, http.ServerResponse>();

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const watching = url.searchParams.get('watch') === 'true';
  const mode = watching ? watchMode : listMode;
  if (mode === 'hang') return;
  if (typeof mode === 'number') {
    res.writeHead(mode, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ kind: 'Status', code: mode, message: `scripted ${mode}` }));
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  if (!watching) return res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: namespaces }));
  res.flushHeaders();
  watchers.add(res);
  watchesOpened.set(url.pathname, (watchesOpened.get(url.pathname) ?? 0) + 1);
  newest.set(url.pathname, res);
  res.on('close', () => watchers.delete(res));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});

const kc = loopbackKubeConfig(server);
applyRequestDeadlines(kc, 300, 1000);
const core = kc.makeApiClient(CoreV1Api);

function informer(path = '/api/v1/namespaces'): ResilientInformer<V1Namespace> {
  return new ResilientInformer<V1Namespace>({ name: 'namespaces', kubeConfig: kc, path, list: () => core.listNamespace(), log: pino({ level: process.env['DBG'] ? 'debug' : 'silent' }) });
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('a list refused with 403, 429 or 500 leaves the API server reachable; a list that hangs does not', async (t) => {
  for (const mode of [403, 429, 500, 'hang'] as const) {
    listMode = mode;
    const inf = informer();
    const started = inf.start();
    // Reachable starts false and turns true on an answer: wait for an attempt to be judged.
    await new Promise((r) => setTimeout(r, 500));
    t.equal(inf.reachable, mode !== 'hang', `${mode}: reachable ${inf.reachable}`);
    t.equal(inf.list().length, 0, `${mode}: nothing listed`);
    listMode = 'ok';
    await started;
    t.equal(inf.reachable, true, `${mode}, then answered: reachable`);
    t.same(inf.list().map((n) => n.metadata?.name), ['a'], 'listed once the server answers');
    await inf.stop();
  }
});

t.test('watch events reach the handlers; a watch the server ends is reopened from where it was', async (t) => {
  listMode = 'ok';
  watchMode = 'events';
  const path = '/api/v1/watch-events';
  const inf = informer(path);
  const added: string[] = [];
  inf.on('add', (n) => added.push(n.metadata?.name ?? ''));
  await inf.start();
  await until('a watch', () => watchesOpened.get(path) === 1);
  newest.get(path)?.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'b', resourceVersion: '11' } } }) + '\n');
  await until('the event', () => added.includes('b'));
  newest.get(path)?.end();
  await until('a new watch', () => watchesOpened.get(path) === 2);
  t.same(added, ['a', 'b'], 'the list, then the event');
  t.equal(inf.reachable, true);
  await inf.stop();
});

t.test('a watch that fails with 500 keeps the server reachable and is retried', async (t) => {
  listMode = 'ok';
  watchMode = 500;
  const path = '/api/v1/watch-refused';
  const inf = informer(path);
  await inf.start();
  await new Promise((r) => setTimeout(r, 600));
  t.equal(inf.reachable, true, 'reachable while the watch is refused');
  watchMode = 'events';
  await until('the watch to open', () => watchesOpened.get(path) === 1);
  await inf.stop();
});
