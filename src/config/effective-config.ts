import type { LoadedConfig } from './config-loader.js';
import type { BarelbConfig } from './types.js';

/**
 * Which config a program runs on after reading its source. A valid config is used as read. An invalid
 * one is never used: a process that already runs on a good config keeps it; a fresh one falls back on
 * the version the controller recorded as in force, if there is one; else it runs on nothing until a
 * valid one arrives. The controller and the speakers choose alike; each says it in its own words.
 */
export type ConfigChoice<R> =
  | { readonly use: 'loaded'; readonly config: BarelbConfig }
  | { readonly use: 'recorded'; readonly config: BarelbConfig; readonly record: R }
  | { readonly use: 'kept' }
  | { readonly use: 'none' };

/** `running`: this process already runs on a good config. `recorded`: the controller's record, if read. */
export function chooseConfig<R extends { readonly config: BarelbConfig }>(
  loaded: LoadedConfig,
  running: boolean,
  recorded: R | undefined,
): ConfigChoice<R> {
  if (loaded.ok) return { use: 'loaded', config: loaded.config };
  if (running) return { use: 'kept' };
  if (recorded) return { use: 'recorded', config: recorded.config, record: recorded };
  return { use: 'none' };
}
