import type { EventRecorder } from '../k8s/event-recorder.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import { REASON } from '../names.js';
import { describeRefusal, type AddressRefusal } from './address-guard.js';
import type { WantedAddresses } from './wanted-addresses.js';

const REFUSALS: readonly AddressRefusal[] = ['outside-pools', 'node-address', 'gateway'];

/**
 * Says which addresses this node refuses to announce: a log line and a Warning Event on each Service
 * once per address and reason, and the count per reason as a gauge.
 */
export class RefusalReporter {
  private current = new Map<string, AddressRefusal>();

  constructor(
    private readonly node: string,
    private readonly log: Logger,
    private readonly events: EventRecorder,
    private readonly metrics: SpeakerMetrics,
  ) {}

  has(ip: string): boolean {
    return this.current.has(ip);
  }

  report({ users, refused }: WantedAddresses): void {
    for (const [ip, why] of refused) {
      if (this.current.get(ip) === why) continue;
      this.log.warn({ ip, reason: why }, `refusing to announce ${ip}: it ${describeRefusal(why)}`);
      for (const u of users.get(ip) ?? []) {
        this.events.record(
          { kind: 'Service', namespace: u.view.namespace, name: u.view.name, uid: u.view.uid },
          { type: 'Warning', reason: REASON.refused, message: `node ${this.node} does not announce ${ip}: it ${describeRefusal(why)}` },
        );
      }
    }
    this.current = refused;
    const byReason = new Map<AddressRefusal, number>(REFUSALS.map((r) => [r, 0]));
    for (const why of refused.values()) byReason.set(why, (byReason.get(why) ?? 0) + 1);
    for (const [reason, n] of byReason) this.metrics.addressesRefused.set({ reason }, n);
  }
}
