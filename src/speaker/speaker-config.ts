import type { CoreV1Api } from '@kubernetes/client-node';
import { formatProblem } from '../config/config-error.js';
import type { LoadedConfig } from '../config/config-loader.js';
import type { ConfigFormat } from '../config/convert/config-format.js';
import { formatWarning } from '../config/convert/conversion.js';
import { chooseConfig } from '../config/effective-config.js';
import { DEFAULT_ANNOUNCE, type AnnounceSpec, type PoolSpec } from '../config/types.js';
import { describeApiError } from '../k8s/api-error.js';
import { CONFIG_IN_FORCE_NAME, describeRecord, readConfigInForce, type ConfigInForce } from '../k8s/config-in-force.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';

/**
 * The config a speaker runs on: the valid one it read last; on an invalid one, the last good one it ran
 * on or, in a fresh process, the version the controller recorded as in force (chooseConfig).
 */
export class SpeakerConfig {
  announce: AnnounceSpec = DEFAULT_ANNOUNCE;
  pools: readonly PoolSpec[] = [];
  private source: string | undefined;
  private running = false;
  /** The controller's record of the config in force: what a speaker starting on an invalid ConfigMap runs on. */
  private recorded: ConfigInForce | undefined;

  constructor(
    private readonly format: ConfigFormat,
    private readonly log: Logger,
    private readonly metrics: SpeakerMetrics,
  ) {}

  /** Reads the controller's record; none when there is none or it cannot be read (logged). */
  async readRecord(core: Pick<CoreV1Api, 'readNamespacedConfigMap'>, namespace: string): Promise<void> {
    try {
      this.recorded = await readConfigInForce(core, namespace);
    } catch (err) {
      this.log.warn({ err: describeApiError(err) }, `cannot read ${namespace}/${CONFIG_IN_FORCE_NAME}; going on without the recorded config`);
    }
  }

  /** Takes in what the source holds now. True when announce and pools were (re)set. */
  apply(loaded: LoadedConfig): boolean {
    if (loaded.source === this.source) return false;
    this.source = loaded.source;
    const choice = chooseConfig(loaded, this.running, this.recorded);
    if (!loaded.ok) {
      this.metrics.configValid.set(0);
      const kept =
        choice.use === 'kept'
          ? 'the last good config stays in force'
          : choice.use === 'recorded'
            ? `running on the last good config the controller recorded (${describeRecord(choice.record)})`
            : 'no good config yet: nothing is announced until one arrives';
      this.log.error({ problems: loaded.error.problems.map(formatProblem) }, `invalid config rejected; ${kept}`);
    } else if (loaded.warnings.length > 0) {
      this.log.warn({ warnings: loaded.warnings.map(formatWarning) }, `${this.format} config converted with warnings`);
    }
    if (choice.use !== 'loaded' && choice.use !== 'recorded') return false;
    if (choice.use === 'loaded') this.metrics.configValid.set(1);
    this.running = true;
    this.announce = choice.config.announce;
    this.pools = choice.config.pools;
    this.log.info({ announce: this.announce, pools: this.pools.map((p) => p.name) }, choice.use === 'loaded' ? 'config loaded' : 'config loaded from the last recorded good version');
    return true;
  }
}
