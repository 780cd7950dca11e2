import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { loadConfig } from '../config/config-loader.js';
import { isConfigFormat, type ConfigFormat } from '../config/convert/config-format.js';
import { renderConfigYaml } from '../config/convert/render.js';
import { CONFIG_KEY, type BarelbConfig } from '../config/types.js';
import { isConflict, isNotFound } from './api-error.js';
import { withDeadline } from './deadline.js';

/*
 * The config the controller runs on, recorded where a restarted controller, a starting speaker and
 * `barelb status` can read it: a ConfigMap of its own in barelb's namespace, written by the controller
 * each time it accepts a version. Without it, a controller restarted while the user's ConfigMap is
 * invalid would have no last good config at all, and nobody could tell which config is in force.
 */

export const CONFIG_IN_FORCE_NAME = 'barelb-config-in-force';
const DEADLINE_MS = 10_000;
const ANN = {
  source: 'barelb.io/config-source',
  sourceVersion: 'barelb.io/config-source-version',
  format: 'barelb.io/config-format',
  acceptedAt: 'barelb.io/accepted-at',
} as const;

/** One accepted config version and where it came from. */
export interface ConfigInForce {
  readonly config: BarelbConfig;
  /** `namespace/name` of the ConfigMap it was read from. */
  readonly source: string;
  /** That ConfigMap's resourceVersion when it was accepted. */
  readonly sourceVersion: string | undefined;
  readonly format: ConfigFormat;
  readonly acceptedAt: Date;
}

/** The ConfigMap that records `record` (barelb's own format, whatever the source's was). Pure. */
export function configInForceObject(namespace: string, record: ConfigInForce): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: CONFIG_IN_FORCE_NAME,
      namespace,
      labels: { 'app.kubernetes.io/name': 'barelb', 'app.kubernetes.io/component': 'controller' },
      annotations: {
        [ANN.source]: record.source,
        ...(record.sourceVersion === undefined ? {} : { [ANN.sourceVersion]: record.sourceVersion }),
        [ANN.format]: record.format,
        [ANN.acceptedAt]: record.acceptedAt.toISOString(),
      },
    },
    data: { [CONFIG_KEY]: renderConfigYaml(record.config) },
  };
}

/** The record in a ConfigMap written by configInForceObject; undefined when absent or unreadable (never trusted half). Pure. */
export function parseConfigInForce(cm: V1ConfigMap | undefined): ConfigInForce | undefined {
  if (!cm) return undefined;
  const loaded = loadConfig(cm, 'barelb');
  const ann = cm.metadata?.annotations ?? {};
  const acceptedAt = new Date(ann[ANN.acceptedAt] ?? '');
  const format = ann[ANN.format];
  const source = ann[ANN.source];
  if (!loaded.ok || Number.isNaN(acceptedAt.getTime()) || !source || format === undefined || !isConfigFormat(format)) return undefined;
  return { config: loaded.config, source, sourceVersion: ann[ANN.sourceVersion], format, acceptedAt };
}

/** Whether two records say the same (the time of acceptance aside): no write needed. */
/** Which version a record holds, for log lines and Events: `version 7 of ns/barelb-config, accepted <ISO time>`. */
export function describeRecord(r: ConfigInForce): string {
  return `version ${r.sourceVersion ?? '?'} of ${r.source}, accepted ${r.acceptedAt.toISOString()}`;
}

export function sameRecord(a: ConfigInForce | undefined, b: ConfigInForce): boolean {
  return a !== undefined && a.source === b.source && a.sourceVersion === b.sourceVersion && a.format === b.format && renderConfigYaml(a.config) === renderConfigYaml(b.config);
}

export async function readConfigInForce(core: Pick<CoreV1Api, 'readNamespacedConfigMap'>, namespace: string): Promise<ConfigInForce | undefined> {
  try {
    return parseConfigInForce(await withDeadline(core.readNamespacedConfigMap({ name: CONFIG_IN_FORCE_NAME, namespace }), DEADLINE_MS, `get ConfigMap ${namespace}/${CONFIG_IN_FORCE_NAME}`));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Creates or replaces the record (replace without a resourceVersion: the leader is its only writer). */
export async function writeConfigInForce(
  core: Pick<CoreV1Api, 'createNamespacedConfigMap' | 'replaceNamespacedConfigMap'>,
  namespace: string,
  record: ConfigInForce,
): Promise<void> {
  const body = configInForceObject(namespace, record);
  const what = `ConfigMap ${namespace}/${CONFIG_IN_FORCE_NAME}`;
  try {
    await withDeadline(core.replaceNamespacedConfigMap({ name: CONFIG_IN_FORCE_NAME, namespace, body }), DEADLINE_MS, `replace ${what}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await withDeadline(core.createNamespacedConfigMap({ namespace, body }), DEADLINE_MS, `create ${what}`);
    } catch (e) {
      // Another writer (an old leader) created it a moment ago: the next accepted version replaces it.
      if (!isConflict(e)) throw e;
    }
  }
}
