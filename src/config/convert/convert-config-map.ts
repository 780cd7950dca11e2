import { InvalidConfigError } from '../config-error.js';
import type { ForeignFormat } from './config-format.js';
import type { Conversion } from './conversion.js';
import { convertKubeVip } from './kube-vip.js';
import { METALLB_CONFIG_KEY, convertMetallb } from './metallb.js';

/**
 * Converts the data of a MetalLB (key `config`) or kube-vip-cloud-provider
 * (every key) ConfigMap. Throws InvalidConfigError.
 */
export function convertConfigMapData(format: ForeignFormat, data: Readonly<Record<string, string>>): Conversion {
  if (format === 'kube-vip') return convertKubeVip(data);
  const text = data[METALLB_CONFIG_KEY];
  if (text === undefined) {
    const keys = Object.keys(data);
    throw new InvalidConfigError([
      {
        path: `data.${METALLB_CONFIG_KEY}`,
        pool: undefined,
        value: undefined,
        message: `is missing: MetalLB's ConfigMap holds its YAML under the key "${METALLB_CONFIG_KEY}"${keys.length ? ` (found: ${keys.join(', ')})` : ''}`,
      },
    ]);
  }
  return convertMetallb(text);
}
