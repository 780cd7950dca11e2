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
  readonly ndpAnswered = new Counter({
    name: 'barelb_ndp_solicitations_answered_total',
    help: 'Neighbor Solicitations answered for an IPv6 address this node announces, by kind (solicited; dad: a duplicate address probe defended)',
    labelNames: ['interface', 'kind'],
    registers: [this.registry],
  });
  readonly ndpIgnored = new Counter({
    name: 'barelb_ndp_frames_ignored_total',
    help: 'Well-formed Neighbor Solicitations and Advertisements not answered, by reason (not-held, own-frame, advertisement)',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly ndpDropped = new Counter({
    name: 'barelb_ndp_frames_dropped_total',
    help: 'Malformed or invalid (RFC 4861) NDP frames dropped, by reason',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly ndpConflicts = new Counter({
    name: 'barelb_ndp_conflicts_total',
    help: 'Neighbor Advertisements from another host claiming an IPv6 address this node announces',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly unsolicitedNaSent = new Counter({
    name: 'barelb_unsolicited_na_sent_total',
    help: 'Unsolicited Neighbor Advertisements sent (takeover burst, refresh, re-assertion)',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly announcing = new Gauge({
    name: 'barelb_addresses_announced',
    help: 'Addresses this node answers ARP (IPv4) or NDP (IPv6) for, by family',
    labelNames: ['family'],
    registers: [this.registry],
  });
  readonly takeovers = new Counter({
    name: 'barelb_takeovers_total',
    help: 'Addresses this node started announcing that no live node announced (first announcement or failover)',
    registers: [this.registry],
  });
  readonly addressesRefused = new Gauge({
    name: 'barelb_addresses_refused',
    help: 'Addresses in Service status this node refuses to announce, by reason (outside-pools, node-address, gateway)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly heartbeatsSent = new Counter({
    name: 'barelb_heartbeats_sent_total',
    help: 'Heartbeat frames sent',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly heartbeatsSendFailed = new Counter({
    name: 'barelb_heartbeats_send_failed_total',
    help: 'Heartbeat frames the packet socket refused to send (link down, interface gone)',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly heartbeatsReceived = new Counter({
    name: 'barelb_heartbeats_received_total',
    help: 'Authenticated, fresh heartbeats from peers',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly heartbeatsDropped = new Counter({
    name: 'barelb_heartbeats_dropped_total',
    help: 'Heartbeat frames dropped, by reason (unauthenticated, replay, other-cluster, malformed, version, short, own, ...)',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly peersLive = new Gauge({
    name: 'barelb_peers_live',
    help: 'Peers whose heartbeats this node hears, by interface',
    labelNames: ['interface'],
    registers: [this.registry],
  });
  readonly nodePortTableRepairs = new Counter({
    name: 'barelb_nodeport_table_repairs_total',
    help: '--forward nodeport: times the nftables table inet barelb was found deleted or changed outside barelb and installed again',
    registers: [this.registry],
  });
  readonly heartbeatFallback = new Gauge({
    name: 'barelb_heartbeat_fallback',
    help: 'Per interface, 1 for the mode in force where this node hears no heartbeats while other speakers\' Leases are live: deaf (nobody hears anyone: the API judges) or cut-off (the others hear each other: this node takes nothing); 0 otherwise',
    labelNames: ['interface', 'mode'],
    registers: [this.registry],
  });
  readonly stalls = new Counter({
    name: 'barelb_stalls_total',
    help: 'Times answering was suspended until the peers were heard again: the ARP thread stalled past the failure timeout, or was lost and replaced',
    registers: [this.registry],
  });
  readonly forwardingReady = new Gauge({
    name: 'barelb_forwarding_ready',
    help: '--forward nodeport: 1 while the nftables rules are installed; 0 while they cannot be (the node announces nothing then)',
    registers: [this.registry],
  });
  readonly interfacesClosed = new Counter({
    name: 'barelb_interfaces_closed_total',
    help: 'Interfaces this speaker stopped announcing on, by reason (down: no link or carrier; replaced: removed and recreated; socket-lost: the packet socket died); it listens again before taking anything when they are back',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly apiReachable = new Gauge({
    name: 'barelb_api_reachable',
    help: '1 while the API server answers this speaker; 0 while it does not (announcements are kept while peers hear this node)',
    registers: [this.registry],
  });
  readonly leaseWrites = new Counter({
    name: 'barelb_lease_writes_total',
    help: "Writes of this node's speaker Lease, by result (ok; refused: an HTTP error status; unreachable: no answer)",
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly configValid = new Gauge({
    name: 'barelb_config_valid',
    help: '1 when the last ConfigMap seen parsed cleanly, 0 when it was rejected (the last good config stays in force)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'barelb_process_' });
    this.apiReachable.set(1);
  }
}
