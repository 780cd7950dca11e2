/*
 * Names users see and several programs share: the controller writes them, the speaker and `barelb status`
 * read them. One module that imports nothing of theirs, so no feature folder reaches into another's
 * internals for a string. A user-facing contract: README lists every one.
 */

/** Service annotations barelb reads (set by users) and writes. */
export const ANNOTATION = {
  /** Pick the pool to assign from. */
  addressPool: 'barelb.io/address-pool',
  /** Request specific addresses: `IP[,IP]`. */
  loadBalancerIPs: 'barelb.io/loadBalancerIPs',
  /** Services with the same key may share an IP when their ports differ. */
  allowSharedIp: 'barelb.io/allow-shared-ip',
  /** Written by the controller: the pool the assigned addresses came from. */
  allocatedFromPool: 'barelb.io/allocated-from-pool',
} as const;

/**
 * Where the speakers' Leases live: a namespace of their own (as kube-node-lease for kubelets), so the
 * speakers' right to write Leases there gives them none over the controller's leader Lease.
 */
export const SPEAKER_LEASE_NAMESPACE = 'barelb-speakers';

/**
 * Other implementations' Service annotations, read as barelb's own so Services move over unchanged:
 * MetalLB's (`metallb.io/`, and the deprecated `metallb.universe.tf/` it still reads) and kube-vip's.
 * barelb's own wins when both are set.
 */
export const ANNOTATION_ALIASES = {
  addressPool: ['metallb.io/address-pool', 'metallb.universe.tf/address-pool'],
  loadBalancerIPs: ['metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs', 'kube-vip.io/loadbalancerIPs'],
  allowSharedIp: ['metallb.io/allow-shared-ip', 'metallb.universe.tf/allow-shared-ip'],
} as const;

/** Handled when `spec.loadBalancerClass` is unset or equals `--lb-class`. */
export const DEFAULT_LB_CLASS = 'barelb.io/barelb';

/** Event reasons on Services: the controller's, then the speakers'. */
export const REASON = {
  assigned: 'IPAllocated',
  released: 'IPReleased',
  failed: 'AllocationFailed',
  invalid: 'InvalidRequest',
  outsidePools: 'IPOutsidePools',
  conflict: 'IPConflict',
  announcing: 'AnnouncingIP',
  refused: 'AddressRefused',
  /** Normal: a MetalLB or kube-vip annotation is read as barelb's; names the one to move to. */
  foreignAnnotation: 'ForeignAnnotation',
  /** Warning on the ConfigMap: a MetalLB or kube-vip config was read with changes of meaning (each named). */
  conversionWarnings: 'ConversionWarnings',
  /** Warning on the Node: it hears no heartbeats on an interface while other speakers' Leases are live (a switch drops them). */
  heartbeatsUnheard: 'HeartbeatsUnheard',
  /** Normal on the Node: heartbeats are heard there again, the LAN decides again. */
  heartbeatsHeard: 'HeartbeatsHeard',
} as const;
