import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './api-error.js';
import { withDeadline } from './deadline.js';

/*
 * The key that authenticates the speakers' heartbeats lives in one Secret in barelb's namespace. The
 * controller creates it with a random key when it is missing; speakers only read it. Rotation: put the
 * new key under `key` and the old one under `previous-key` (README: one command); each speaker signs
 * with the new key once every live speaker holds it (election/signing-key-choice.ts).
 */

export const HEARTBEAT_SECRET_NAME = 'barelb-heartbeat-key';
export const HEARTBEAT_SECRET_KEYS = { current: 'key', previous: 'previous-key' } as const;
/** How often speakers re-read the Secret. */
export const HEARTBEAT_KEY_REFRESH_MS = 30_000;
/** How long one API call may go unanswered before it fails with ApiDeadlineError. */
export const HEARTBEAT_SECRET_DEADLINE_MS = 10_000;

/** The keys as hex strings, signing key first; undefined while there is no Secret (or no usable key in it). */
export async function readHeartbeatKeys(
  core: Pick<CoreV1Api, 'readNamespacedSecret'>,
  namespace: string,
  name = HEARTBEAT_SECRET_NAME,
  deadlineMs = HEARTBEAT_SECRET_DEADLINE_MS,
): Promise<string[] | undefined> {
  try {
    const secret = await withDeadline(core.readNamespacedSecret({ name, namespace }), deadlineMs, `get Secret ${namespace}/${name}`);
    return keysOf(secret.data ?? {});
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The keys in a Secret's data (base64 values), signing key first; undefined without a usable `key` (16 bytes or more). */
export function keysOf(data: Record<string, string>): string[] | undefined {
  const usable = (k: string): string | undefined => {
    const b = Buffer.from(data[k] ?? '', 'base64');
    return b.length >= 16 ? b.toString('hex') : undefined;
  };
  const current = usable(HEARTBEAT_SECRET_KEYS.current);
  if (current === undefined) return undefined;
  const previous = usable(HEARTBEAT_SECRET_KEYS.previous);
  return previous === undefined ? [current] : [current, previous];
}

/** Creates the Secret with a random 32-byte key unless it exists. True when this call created it. */
export async function ensureHeartbeatSecret(
  core: Pick<CoreV1Api, 'readNamespacedSecret' | 'createNamespacedSecret'>,
  namespace: string,
  name = HEARTBEAT_SECRET_NAME,
  deadlineMs = HEARTBEAT_SECRET_DEADLINE_MS,
): Promise<boolean> {
  try {
    await withDeadline(core.readNamespacedSecret({ name, namespace }), deadlineMs, `get Secret ${namespace}/${name}`);
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await withDeadline(
      core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'barelb' } },
          type: 'Opaque',
          data: { [HEARTBEAT_SECRET_KEYS.current]: randomBytes(32).toString('base64') },
        },
      }),
      deadlineMs,
      `create Secret ${namespace}/${name}`,
    );
    return true;
  } catch (err) {
    if (isConflict(err)) return false; // the other replica was first
    throw err;
  }
}
