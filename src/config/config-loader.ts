import type { V1ConfigMap } from '@kubernetes/client-node';
import { InvalidConfigError } from './config-error.js';
import type { ConfigFormat } from './convert/config-format.js';
import { convertConfigMapData } from './convert/convert-config-map.js';
import type { ConversionWarning } from './convert/conversion.js';
import { parseConfig } from './parse.js';
import { CONFIG_KEY, EMPTY_CONFIG, type BarelbConfig } from './types.js';

export type LoadedConfig =
  | { readonly ok: true; readonly config: BarelbConfig; readonly source: string; readonly warnings: readonly ConversionWarning[] }
  | { readonly ok: false; readonly error: InvalidConfigError; readonly source: string };

/**
 * Reads barelb's config out of its ConfigMap, or with a foreign `format` out
 * of a MetalLB or kube-vip ConfigMap through the converter; invalid foreign
 * config fails the same way invalid barelb config does. No ConfigMap at all is
 * a valid, empty config. `metallb-crds` is no ConfigMap format: always invalid
 * here (see metallbObjectsView).
 */
export function loadConfig(cm: V1ConfigMap | undefined, format: ConfigFormat = 'barelb'): LoadedConfig {
  if (format === 'metallb-crds') {
    // MetalLB's objects come from the API (metallb-objects-view.ts), never from a ConfigMap.
    const error = new InvalidConfigError([
      { path: '', pool: undefined, value: undefined, message: '--config-format metallb-crds reads MetalLB\'s IPAddressPool and L2Advertisement objects, not a ConfigMap' },
    ]);
    return { ok: false, error, source: 'metallb-crds' };
  }
  if (!cm) return { ok: true, config: EMPTY_CONFIG, source: '', warnings: [] };
  if (format !== 'barelb') {
    const data = cm.data ?? {};
    const source = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
    try {
      const converted = convertConfigMapData(format, data);
      return { ok: true, config: converted.config, source, warnings: converted.warnings };
    } catch (err) {
      if (err instanceof InvalidConfigError) return { ok: false, error: err, source };
      throw err;
    }
  }
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
    return { ok: true, config: parseConfig(text), source: text, warnings: [] };
  } catch (err) {
    if (err instanceof InvalidConfigError) return { ok: false, error: err, source: text };
    throw err;
  }
}
