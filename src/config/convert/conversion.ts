import type { BarelbConfig } from '../types.js';

/**
 * Something a foreign config says that barelb carries out differently, or not
 * at all; the message says what the operator must do about it.
 */
export interface ConversionWarning {
  /** Where in the foreign config, e.g. `address-pools[0].name` or `allow-share-team`. */
  readonly path: string;
  readonly message: string;
}

/** A foreign config in barelb's terms: the config, its `config.yaml` text, and what did not carry over exactly. */
export interface Conversion {
  readonly config: BarelbConfig;
  /** barelb's YAML for the same config; parseConfig(yaml) yields `config`. */
  readonly yaml: string;
  readonly warnings: readonly ConversionWarning[];
}

export function formatWarning(w: ConversionWarning): string {
  return `${w.path}: ${w.message}`;
}
