import { Backoff } from '../k8s/backoff.js';
import { familyOf } from '../net/ip.js';
import type { NodePortForward } from '../net/nft-ruleset.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import type { NodePortForwarder } from './nodeport-forwarder.js';

/** A Service port as the rewrite needs it. */
export interface ServicePort {
  readonly protocol?: string;
  readonly port: number;
  readonly nodePort?: number;
}

/**
 * The nodeport rewrites for `vips`: each VIP:port to this node's InternalIP of the VIP's family and the
 * port's NodePort. A VIP without an InternalIP of its family, or a port without a NodePort, gets none. Pure.
 */
export function nodePortRules(vips: Iterable<string>, internalIps: readonly string[], portsOf: (vip: string) => readonly ServicePort[]): NodePortForward[] {
  const out: NodePortForward[] = [];
  for (const vip of vips) {
    const family = familyOf(vip);
    const nodeIp = internalIps.find((a) => familyOf(a) === family);
    if (!nodeIp) continue;
    for (const p of portsOf(vip)) {
      if (!p.nodePort) continue;
      out.push({ vip, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp', port: p.port, nodeIp, nodePort: p.nodePort });
    }
  }
  return out;
}

export interface NodePortSyncHooks {
  /** A table was applied or failed to: decide again (waiting addresses may be announced now). */
  settled(): void;
  /** This node can serve again (false), or cannot (true): its heartbeats say so. */
  unfit(unfit: boolean): void;
}

/** nodeport mode: rules that failed to install are tried again after about 1 s, doubling up to 30 s. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** How often the installed table is checked against what barelb installed (one `nft list` run). */
export const VERIFY_EVERY_MS = 2000;

/**
 * `--forward nodeport`: keeps the `inet barelb` table in step with what this node announces and with
 * what waits to be announced. A VIP is announced only once its rewrite is in; while the table cannot be
 * installed the node is unfit (announces nothing, peers take over) and retries with backoff.
 */
export class NodePortSync {
  private stale = true;
  /** Addresses whose rewrite the last applied table has. */
  private forwarded: ReadonlySet<string> = new Set();
  private readonly awaiting = new Set<string>();
  private applying = false;
  private failure: { attempts: number; retryAtMs: number } | undefined;
  private readonly backoff = new Backoff(RETRY_FIRST_MS, RETRY_MAX_MS);
  private nextVerifyMs = 0;
  private verifying = false;

  constructor(
    private readonly forwarder: NodePortForwarder,
    private readonly log: Logger,
    private readonly metrics: SpeakerMetrics,
    private readonly hooks: NodePortSyncHooks,
  ) {}

  /** The rules cannot be installed: announce nothing until they can. */
  get unfit(): boolean {
    return this.failure !== undefined;
  }

  get rewritten(): ReadonlySet<string> {
    return this.forwarded;
  }

  /** Removes the table (shutdown). */
  remove(): Promise<void> {
    return this.forwarder.remove();
  }

  /** What is announced (or what the rules read) changed. */
  markStale(): void {
    this.stale = true;
  }

  /**
   * Every VERIFY_EVERY_MS: is the table still what barelb installed? Deleted or edited outside barelb, it
   * is installed again at once (the VIPs this node answers for would otherwise reach nothing), logged and
   * counted; if it cannot be, the node goes unfit as on any failed install.
   */
  check(now: number): void {
    if (this.verifying || this.applying || now < this.nextVerifyMs) return;
    this.nextVerifyMs = now + VERIFY_EVERY_MS;
    this.verifying = true;
    void this.forwarder.verify().then((intact) => {
      this.verifying = false;
      if (intact) return;
      this.metrics.nodePortTableRepairs.inc();
      this.log.warn('the nftables table inet barelb was deleted or changed outside barelb: installing it again');
      this.stale = true;
      this.hooks.settled();
    });
  }

  /** `ip` is to be announced once its rewrite is in. */
  await(ip: string): void {
    this.awaiting.add(ip);
  }

  /** Applies the table for `announced` and the waiting addresses, when something changed and no apply runs. */
  sync(now: number, announced: Iterable<string>, rulesFor: (vips: ReadonlySet<string>) => NodePortForward[]): void {
    if (this.applying || (!this.stale && this.awaiting.size === 0)) return;
    if (this.failure && now < this.failure.retryAtMs) return;
    this.stale = false;
    this.applying = true;
    const vips = new Set(announced);
    for (const ip of this.awaiting) vips.add(ip);
    this.awaiting.clear();
    this.forwarder.apply(rulesFor(vips)).then(
      () => {
        const fresh = [...vips].filter((ip) => !this.forwarded.has(ip));
        if (fresh.length > 0) this.log.debug({ vips: fresh }, 'nodeport rewrites in place; answering ARP for these may start');
        this.forwarded = vips;
        this.applying = false;
        if (this.failure) {
          this.failure = undefined;
          this.backoff.reset();
          this.metrics.forwardingReady.set(1);
          this.hooks.unfit(false);
          this.log.info('nodeport rules installed again: this node may announce again (it takes nothing back)');
        }
        this.hooks.settled();
      },
      (err: unknown) => {
        this.applying = false;
        this.stale = true;
        const attempts = (this.failure?.attempts ?? 0) + 1;
        const retryInMs = this.backoff.next();
        this.failure = { attempts, retryAtMs: performance.now() + retryInMs };
        this.metrics.forwardingReady.set(0);
        this.hooks.unfit(true);
        this.log.error({ err: (err as Error).message, attempts, retryInMs }, 'nodeport rules cannot be installed: this node announces nothing until they can');
        this.hooks.settled();
      },
    );
  }
}
