/** Service annotations barelb reads (set by users) and writes. A user-facing contract. */
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

/** Handled when `spec.loadBalancerClass` is unset or equals `--lb-class`. */
export const DEFAULT_LB_CLASS = 'barelb.io/barelb';
