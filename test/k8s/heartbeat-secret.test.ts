import t from 'tap';
import type { V1Secret } from '@kubernetes/client-node';
import {
  HEARTBEAT_SECRET_DEADLINE_MS,
  HEARTBEAT_SECRET_KEYS,
  HEARTBEAT_SECRET_NAME,
  ensureHeartbeatSecret,
  keysOf,
  readHeartbeatKeys,
} from '../../src/k8s/heartbeat-secret.js';
import { ApiDeadlineError } from '../../src/k8s/deadline.js';

const b64 = (bytes: Buffer): string => bytes.toString('base64');
const KEY32 = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const KEY16 = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');
const KEY15 = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfe', 'hex');

t.test('keysOf', async (t) => {
  const { current, previous } = HEARTBEAT_SECRET_KEYS;
  const rows: [what: string, data: Record<string, string>, want: string[] | undefined][] = [
    ['no data', {}, undefined],
    ['current only', { [current]: b64(KEY32) }, [KEY32.toString('hex')]],
    ['current only, exactly 16 bytes', { [current]: b64(KEY16) }, [KEY16.toString('hex')]],
    ['current and previous, signing key first', { [current]: b64(KEY16), [previous]: b64(KEY32) }, [KEY16.toString('hex'), KEY32.toString('hex')]],
    ['a short current key: nothing usable', { [current]: b64(KEY15) }, undefined],
    ['a short previous key is ignored', { [current]: b64(KEY32), [previous]: b64(KEY15) }, [KEY32.toString('hex')]],
    ['an empty previous key is ignored', { [current]: b64(KEY32), [previous]: '' }, [KEY32.toString('hex')]],
    ['no current key, even with a previous one', { [previous]: b64(KEY32) }, undefined],
    ['a short current key, even with a good previous one', { [current]: b64(KEY15), [previous]: b64(KEY32) }, undefined],
    ['other keys are not keys', { 'signing-key': b64(KEY32), KEY: b64(KEY32) }, undefined],
    // Buffer's base64 decoder skips what is not base64 rather than throwing: text that is not base64 at all
    // decodes to too few bytes and is refused. (The API server only stores valid base64 in `data`.)
    ['not base64 at all', { [current]: '!!!! ???? **** ####  ----' }, undefined],
    ['a hex string is read as base64, not hex', { [current]: KEY15.toString('hex') }, [Buffer.from(KEY15.toString('hex'), 'base64').toString('hex')]],
    ['base64url spelling decodes the same', { [current]: KEY32.toString('base64url') }, [KEY32.toString('hex')]],
  ];
  for (const [what, data, want] of rows) t.same(keysOf(data), want, what);
});

// ---------------------------------------------------------------------------
// a scripted fake of the two CoreV1Api methods: each call takes the next step of its method's script

type Step<T> = { value: T } | { error: unknown } | 'never';

class FakeCore {
  readonly calls: { method: string; args: unknown }[] = [];
  constructor(
    private readonly reads: Step<V1Secret>[],
    private readonly creates: Step<V1Secret>[] = [],
  ) {}

  readNamespacedSecret(args: { name: string; namespace: string }): Promise<V1Secret> {
    this.calls.push({ method: 'read', args });
    return this.next(this.reads, 'read');
  }

  createNamespacedSecret(args: { namespace: string; body: V1Secret }): Promise<V1Secret> {
    this.calls.push({ method: 'create', args });
    return this.next(this.creates, 'create');
  }

  private next(script: Step<V1Secret>[], method: string): Promise<V1Secret> {
    const step = script.shift();
    if (step === undefined) return Promise.reject(new Error(`unscripted ${method}`));
    if (step === 'never') return new Promise(() => {});
    return 'error' in step ? Promise.reject(step.error) : Promise.resolve(step.value);
  }
}

/**
 * Shaped like client-node 1.4's ApiException (code, body, headers), which api-error.ts reads by shape. Not the real
 * class: importing @kubernetes/client-node at run time costs this file seconds.
 */
const apiError = (code: number, reason: string): Error & { code: number; body: string } =>
  Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: 'Status', code, reason }), headers: {} });
const secret = (data: Record<string, string>): V1Secret => ({ metadata: { name: HEARTBEAT_SECRET_NAME, namespace: 'barelb' }, data });

t.test('the deadline defaults to 10 s', async (t) => {
  t.equal(HEARTBEAT_SECRET_DEADLINE_MS, 10_000);
});

t.test('readHeartbeatKeys', async (t) => {
  t.test('reads the keys of the named Secret', async (t) => {
    const core = new FakeCore([{ value: secret({ key: b64(KEY32), 'previous-key': b64(KEY16) }) }]);
    t.same(await readHeartbeatKeys(core, 'barelb'), [KEY32.toString('hex'), KEY16.toString('hex')]);
    t.same(core.calls, [{ method: 'read', args: { name: 'barelb-heartbeat-key', namespace: 'barelb' } }]);
  });

  t.test('another name', async (t) => {
    const core = new FakeCore([{ value: secret({ key: b64(KEY32) }) }]);
    t.same(await readHeartbeatKeys(core, 'ns', 'my-key'), [KEY32.toString('hex')]);
    t.same(core.calls, [{ method: 'read', args: { name: 'my-key', namespace: 'ns' } }]);
  });

  t.test('a Secret without data or without a usable key', async (t) => {
    t.equal(await readHeartbeatKeys(new FakeCore([{ value: { metadata: { name: HEARTBEAT_SECRET_NAME } } }]), 'barelb'), undefined);
    t.equal(await readHeartbeatKeys(new FakeCore([{ value: secret({ key: b64(KEY15) }) }]), 'barelb'), undefined);
  });

  t.test('404: no Secret yet', async (t) => {
    t.equal(await readHeartbeatKeys(new FakeCore([{ error: apiError(404, 'NotFound') }]), 'barelb'), undefined);
  });

  t.test('other errors propagate', async (t) => {
    const forbidden = apiError(403, 'Forbidden');
    await t.rejects(readHeartbeatKeys(new FakeCore([{ error: forbidden }]), 'barelb'), forbidden);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { cause: { code: 'ECONNREFUSED' } });
    await t.rejects(readHeartbeatKeys(new FakeCore([{ error: refused }]), 'barelb'), refused);
  });

  t.test('no answer: ApiDeadlineError', async (t) => {
    await t.rejects(readHeartbeatKeys(new FakeCore(['never']), 'barelb', HEARTBEAT_SECRET_NAME, 20), {
      constructor: ApiDeadlineError,
      code: 'BARELB_API_DEADLINE',
      operation: 'get Secret barelb/barelb-heartbeat-key',
      ms: 20,
    });
  });
});

t.test('ensureHeartbeatSecret', async (t) => {
  t.test('an existing Secret is left alone', async (t) => {
    // even one without a usable key: replacing a Secret someone wrote is not the controller's call
    for (const data of [{ key: b64(KEY32) }, {}] as Record<string, string>[]) {
      const core = new FakeCore([{ value: secret(data) }]);
      t.equal(await ensureHeartbeatSecret(core, 'barelb'), false);
      t.same(core.calls.map((c) => c.method), ['read']);
    }
  });

  t.test('404, then create with a fresh random 32-byte key', async (t) => {
    const keys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const core = new FakeCore([{ error: apiError(404, 'NotFound') }], [{ value: secret({}) }]);
      t.equal(await ensureHeartbeatSecret(core, 'barelb'), true, 'created');
      t.same(core.calls.map((c) => c.method), ['read', 'create']);
      const { namespace, body } = core.calls[1]?.args as { namespace: string; body: V1Secret };
      t.equal(namespace, 'barelb');
      t.same(body.metadata, { name: 'barelb-heartbeat-key', namespace: 'barelb', labels: { 'app.kubernetes.io/name': 'barelb' } });
      t.equal(body.type, 'Opaque');
      t.same(Object.keys(body.data ?? {}), ['key'], 'only the current key, no previous one');
      const key = body.data?.key ?? '';
      t.equal(Buffer.from(key, 'base64').length, 32);
      t.same(keysOf(body.data ?? {}), [Buffer.from(key, 'base64').toString('hex')], 'what it writes, speakers can read');
      keys.push(key);
    }
    t.not(keys[0], keys[1], 'each Secret gets its own key');
  });

  t.test('another name', async (t) => {
    const core = new FakeCore([{ error: apiError(404, 'NotFound') }], [{ value: secret({}) }]);
    t.equal(await ensureHeartbeatSecret(core, 'ns', 'my-key'), true);
    t.same(core.calls[0]?.args, { name: 'my-key', namespace: 'ns' });
    t.match(core.calls[1]?.args, { namespace: 'ns', body: { metadata: { name: 'my-key', namespace: 'ns' } } });
  });

  t.test('409 on create: the other replica was first', async (t) => {
    const core = new FakeCore([{ error: apiError(404, 'NotFound') }], [{ error: apiError(409, 'AlreadyExists') }]);
    t.equal(await ensureHeartbeatSecret(core, 'barelb'), false);
    t.same(core.calls.map((c) => c.method), ['read', 'create']);
  });

  t.test('other errors propagate, and a failed read creates nothing', async (t) => {
    const rows: [what: string, reads: Step<V1Secret>[], creates: Step<V1Secret>[], want: { code: number } | { message: string }, calls: string[]][] = [
      ['403 on read', [{ error: apiError(403, 'Forbidden') }], [], { code: 403 }, ['read']],
      ['500 on read', [{ error: apiError(500, 'InternalError') }], [], { code: 500 }, ['read']],
      ['409 on read is no reason to create', [{ error: apiError(409, 'Conflict') }], [], { code: 409 }, ['read']],
      ['a network error on read', [{ error: new Error('socket hang up') }], [], { message: 'socket hang up' }, ['read']],
      ['403 on create', [{ error: apiError(404, 'NotFound') }], [{ error: apiError(403, 'Forbidden') }], { code: 403 }, ['read', 'create']],
      ['404 on create (namespace gone)', [{ error: apiError(404, 'NotFound') }], [{ error: apiError(404, 'NotFound') }], { code: 404 }, ['read', 'create']],
    ];
    for (const [what, reads, creates, want, calls] of rows) {
      const core = new FakeCore(reads, creates);
      await t.rejects(ensureHeartbeatSecret(core, 'barelb'), want, what);
      t.same(core.calls.map((c) => c.method), calls, `${what}: calls`);
    }
  });

  t.test('no answer: ApiDeadlineError, on read or on create', async (t) => {
    const onRead = new FakeCore(['never']);
    await t.rejects(ensureHeartbeatSecret(onRead, 'barelb', HEARTBEAT_SECRET_NAME, 20), {
      constructor: ApiDeadlineError,
      code: 'BARELB_API_DEADLINE',
      operation: 'get Secret barelb/barelb-heartbeat-key',
      ms: 20,
    });
    t.same(onRead.calls.map((c) => c.method), ['read'], 'no create after a read that timed out');

    const onCreate = new FakeCore([{ error: apiError(404, 'NotFound') }], ['never']);
    await t.rejects(ensureHeartbeatSecret(onCreate, 'barelb', HEARTBEAT_SECRET_NAME, 20), {
      constructor: ApiDeadlineError,
      code: 'BARELB_API_DEADLINE',
      operation: 'create Secret barelb/barelb-heartbeat-key',
    });
  });
});
