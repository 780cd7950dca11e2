import type { V1ConfigMap } from '@kubernetes/client-node';
import { InvalidConfigError } from '../config/config-error.js';
import { parseConfig } from '../config/parse.js';
import { CONFIG_KEY, EMPTY_CONFIG, type BarelbConfig } from '../config/types.js';

export type LoadedConfig =
  | { readonly ok: true; readonly config: BarelbConfig; readonly source: string }
  | { readonly ok: false; readonly error: InvalidConfigError; readonly source: string };

/** Reads barelb's config out of its ConfigMap. No ConfigMap at all is a valid, empty config. */
export function loadConfig(cm: V1ConfigMap | undefined): LoadedConfig {
  if (!cm) return { ok: true, config: EMPTY_CONFIG, source: '' };
  const text = cm.data?.[CONFIG_KEY];
  if (text === undefined) {
    const keys = Object.keys(cm.data ?? {});
    const error = new InvalidConfigError([
      {
        path: `data.${CONFIG_KEY}`,
        pool: undefined,
        value: undefined,
        message: `is missing: put the YAML under the key "${CONFIG_KEY}"${keys.length ? ` (found: ${keys.join(', ')})` : ''}`,
      },
    ]);
    return { ok: false, error, source: JSON.stringify(cm.data ?? {}) };
  }
  try {
    return { ok: true, config: parseConfig(text), source: text };
  } catch (err) {
    if (err instanceof InvalidConfigError) return { ok: false, error: err, source: text };
    throw err;
  }
}
