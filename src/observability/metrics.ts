import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Metrics of the controller. Names are part of the user-facing contract: see README. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly configValid = new Gauge({
    name: 'barelb_config_valid',
    help: '1 when the last ConfigMap seen parsed cleanly, 0 when it was rejected (the last good config stays in force)',
    registers: [this.registry],
  });
  readonly configRejections = new Counter({
    name: 'barelb_config_rejected_total',
    help: 'ConfigMap versions rejected as invalid',
    registers: [this.registry],
  });
  readonly configLastReload = new Gauge({
    name: 'barelb_config_last_success_timestamp_seconds',
    help: 'When a config was last accepted',
    registers: [this.registry],
  });
  readonly poolSize = new Gauge({
    name: 'barelb_pool_addresses_total',
    help: 'Assignable addresses in a pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly poolUsed = new Gauge({
    name: 'barelb_pool_addresses_in_use',
    help: 'Addresses of a pool held by Services',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly allocations = new Counter({
    name: 'barelb_allocations_total',
    help: 'Address assignments and failures, by result (assigned, failed, released)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly allocationFailures = new Counter({
    name: 'barelb_allocation_failures_total',
    help: 'Services left pending, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly pendingServices = new Gauge({
    name: 'barelb_services_pending',
    help: 'LoadBalancer Services this controller handles that have no address',
    registers: [this.registry],
  });
  readonly orphanedServices = new Gauge({
    name: 'barelb_services_outside_pools',
    help: 'Services holding addresses that no configured pool covers any more',
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'barelb_controller_leader',
    help: '1 while this replica is the active controller',
    registers: [this.registry],
  });
  readonly apiErrors = new Counter({
    name: 'barelb_api_errors_total',
    help: 'Failed Kubernetes API calls, by operation',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'barelb_reconcile_duration_seconds',
    help: 'Time to reconcile one Service, status write included',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'barelb_process_' });
  }
}

/** Metrics of a speaker. Names are part of the user-facing contract: see README. */
export class SpeakerMetrics {
  readonly registry = new Registry();
  readonly arpAnswered = new Counter({
    name: 'barelb_arp_requests_answered_total',
    help: 'ARP requests answered for an address this node announces',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly arpIgnored = new Counter({
    name: 'barelb_arp_frames_ignored_total',
    help: 'Well-formed ARP frames not answered, by reason (not-held, probe, gratuitous, reply, own-frame)',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly arpDropped = new Counter({
    name: 'barelb_arp_frames_dropped_total',
    help: 'Malformed frames dropped, by reason (truncated, not-arp, bad-hardware-type, ...)',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly arpConflicts = new Counter({
    name: 'barelb_arp_conflicts_total',
    help: 'ARP from another host claiming an address this node announces',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly garpSent = new Counter({
    name: 'barelb_gratuitous_arp_sent_total',
    help: 'Gratuitous ARP rounds sent (each round: request and reply form)',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly leasesHeld = new Gauge({
    name: 'barelb_leases_held',
    help: 'Per-IP Leases this node holds',
    registers: [this.registry],
  });
  readonly announcing = new Gauge({
    name: 'barelb_addresses_announced',
    help: 'Addresses this node answers ARP for',
    registers: [this.registry],
  });
  readonly electionsWon = new Counter({
    name: 'barelb_elections_won_total',
    help: 'Per-IP Leases acquired',
    registers: [this.registry],
  });
  readonly electionsLost = new Counter({
    name: 'barelb_elections_lost_total',
    help: 'Lease writes that lost a compare-and-swap (another node wrote first)',
    registers: [this.registry],
  });
  readonly leaseWrites = new Counter({
    name: 'barelb_lease_writes_total',
    help: 'Lease writes, by kind (acquire, renew, release) and result (ok, conflict, error; stale: dropped because the Lease changed while it waited)',
    labelNames: ['kind', 'result'],
    registers: [this.registry],
  });
  readonly leaseWritesWaiting = new Gauge({
    name: 'barelb_lease_writes_waiting',
    help: 'Lease writes waiting for one of the --lease-writes-in-flight slots (growing: the API server cannot keep up with IPs / renew-interval)',
    registers: [this.registry],
  });
  readonly configValid = new Gauge({
    name: 'barelb_config_valid',
    help: '1 when the last ConfigMap seen parsed cleanly, 0 when it was rejected (the last good config stays in force)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'barelb_process_' });
  }
}
