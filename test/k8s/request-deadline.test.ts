import http from 'node:http';
import { Socket } from 'node:net';
import { CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import t from 'tap';
import { describeApiError, isAnswer } from '../../src/k8s/api-error.js';
import { applyRequestDeadlines } from '../../src/k8s/request-deadline.js';
import { loopbackKubeConfig } from './scripted-api.js';

// A scripted API server on loopback: each path answers as the test says (a status, or nothing at all).
const answers = new Map<string, number | 'hang' | 'watch-silent'>();
const server = http.createServer((req, res) => {
  const a = answers.get((req.url ?? '').split('?')[0] ?? '') ?? 404;
  if (a === 'hang') return; // headers never come
  if (a === 'watch-silent') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    return; // a watch that never says anything
  }
  res.writeHead(a, { 'content-type': 'application/json' });
  res.end(JSON.stringify(a === 200 ? { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' } } : { kind: 'Status', code: a, message: `scripted ${a}` }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});

function kubeConfig(requestMs: number, keepAliveMs: number): KubeConfig {
  return applyRequestDeadlines(loopbackKubeConfig(server), requestMs, keepAliveMs);
}

t.test('a request the server never answers fails at the deadline, as no answer', async (t) => {
  answers.set('/api/v1/namespaces/hung', 'hang');
  const core = kubeConfig(300, 1000).makeApiClient(CoreV1Api);
  const start = Date.now();
  const err = await core.readNamespace({ name: 'hung' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = Date.now() - start;
  t.ok(err, 'rejected');
  t.ok(ms >= 250 && ms < 5000, `after ${ms} ms (deadline 300 ms)`);
  t.equal(isAnswer(err), false, 'not an answer');
  t.equal(describeApiError(err), 'no answer before the request deadline');
});

t.test('refusals are answers: 403, 429 and 500 say the API server is there', async (t) => {
  const core = kubeConfig(2000, 1000).makeApiClient(CoreV1Api);
  for (const status of [403, 429, 500]) {
    answers.set(`/api/v1/namespaces/s${status}`, status);
    const err = await core.readNamespace({ name: `s${status}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.equal(isAnswer(err), true, `${status}: ${describeApiError(err)}`);
  }
  answers.set('/api/v1/namespaces/ok', 200);
  t.equal((await core.readNamespace({ name: 'ok' })).metadata?.name, 'x', 'an answered request still works');
});

t.test('connections probe after the keepalive idle time, the watch too (client-node asks for 30 s)', async (t) => {
  const delays: number[] = [];
  const original = Socket.prototype.setKeepAlive;
  Socket.prototype.setKeepAlive = function (this: Socket, enable?: boolean, delay?: number) {
    if (enable) delays.push(delay ?? 0);
    return original.call(this, enable, delay);
  };
  t.teardown(() => {
    Socket.prototype.setKeepAlive = original;
  });
  const kc = kubeConfig(2000, 1234);
  answers.set('/api/v1/namespaces/ok', 200);
  await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'ok' });
  t.ok(delays.length > 0 && delays.every((d) => d === 1234), `request socket: ${delays.join(', ')} ms`);
  delays.length = 0;
  answers.set('/api/v1/services', 'watch-silent');
  const controller = await new Watch(kc).watch('/api/v1/services', {}, () => undefined, () => undefined);
  controller.abort();
  t.ok(delays.length >= 2, `the watch socket was set ${delays.length} times`);
  t.ok(delays.every((d) => d === 1234), `watch socket: ${delays.join(', ')} ms, never client-node's 30000`);
});
