import type { IpRange } from '../net/ip-range.js';
import type { LabelSelector } from './label-selector.js';

/** One address pool, validated. Field names follow the ConfigMap's keys. */
export interface PoolSpec {
  readonly name: string;
  readonly ranges: readonly IpRange[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  /** Empty: every namespace may use the pool. */
  readonly namespaces: readonly string[];
  readonly serviceSelector: LabelSelector | undefined;
}

/** Which nodes may announce, and how (read by the speaker). */
export interface AnnounceSpec {
  readonly nodeSelector: LabelSelector | undefined;
  readonly interfaces: readonly string[];
  readonly garpRefreshSeconds: number;
}

export interface BarelbConfig {
  readonly pools: readonly PoolSpec[];
  readonly announce: AnnounceSpec;
}

export const DEFAULT_ANNOUNCE: AnnounceSpec = { nodeSelector: undefined, interfaces: [], garpRefreshSeconds: 0 };

/** What a cluster without a ConfigMap runs on: nothing to assign. */
export const EMPTY_CONFIG: BarelbConfig = { pools: [], announce: DEFAULT_ANNOUNCE };

/** The ConfigMap key that holds the YAML. */
export const CONFIG_KEY = 'config.yaml';
