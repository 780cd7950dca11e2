import type { PoolSpec } from '../config/types.js';
import type { ServiceView } from '../k8s/service-view.js';
import { canonicalIp } from '../net/ip.js';
import { handles } from '../k8s/service-view.js';
import { refusalOf, type AddressRefusal } from './address-guard.js';
import type { IpUser } from './eligibility.js';

/** A Service holding an address, with what announcing it needs and what Events about it name. */
export type AddressUser = IpUser & { readonly view: ServiceView };

export interface WantedInput {
  readonly services: readonly ServiceView[];
  /** `--lb-class`: Services of another class are not this speaker's. */
  readonly lbClass: string;
  /** Service key -> nodes with a ready endpoint. */
  readonly readyNodes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly pools: readonly PoolSpec[];
  /** Every Node's addresses and this host's own, canonical. */
  readonly hostAddresses: ReadonlySet<string>;
  /** This host's route gateways, canonical. */
  readonly gateways: ReadonlySet<string>;
}

export interface WantedAddresses {
  /** Canonical address -> the Services holding it in status, in list order. */
  readonly users: Map<string, AddressUser[]>;
  /** Addresses that must not be announced (address guard), with why. They stay in `users`. */
  readonly refused: Map<string, AddressRefusal>;
}

/** The LoadBalancer addresses in status of the Services this speaker handles, and which of them it refuses. Pure. */
export function wantedAddresses(input: WantedInput): WantedAddresses {
  const facts = { pools: input.pools, hostAddresses: input.hostAddresses, gateways: input.gateways };
  const users = new Map<string, AddressUser[]>();
  const refused = new Map<string, AddressRefusal>();
  for (const view of input.services) {
    if (!handles(view, input.lbClass)) continue;
    for (const raw of view.ingressIps) {
      const ip = canonicalIp(raw);
      if (!ip) continue;
      const list = users.get(ip) ?? [];
      list.push({ key: view.key, externalTrafficPolicy: view.externalTrafficPolicy, readyNodes: input.readyNodes.get(view.key) ?? new Set(), view });
      users.set(ip, list);
      const why = refusalOf(ip, facts);
      if (why) refused.set(ip, why);
    }
  }
  return { users, refused };
}
