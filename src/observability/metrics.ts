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
