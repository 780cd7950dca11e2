import { ANNOTATION, DEFAULT_LB_CLASS } from '../../src/names.js';
import { reconcileService, relearn, type Outcome } from '../../src/controller/reconcile.js';
import type { PoolSpec } from '../../src/config/types.js';
import { Allocator } from '../../src/ipam/allocator.js';
import type { ServiceView } from '../../src/k8s/service-view.js';
import { view } from '../fixtures.js';

/** What a Service's spec says, as the tests vary it. */
export interface Spec {
  readonly ports?: readonly string[];
  readonly sharingKey?: string;
  readonly pool?: string;
  readonly requestedIps?: string;
}

/**
 * Services in a cluster and a controller that reconciles each one as it
 * changes, writing status and the allocated-from-pool annotation back as the
 * controller does. Pure: no API server.
 */
export class Cluster {
  alloc: Allocator;
  readonly views = new Map<string, ServiceView>();
  private created = 0;

  constructor(private pools: PoolSpec[]) {
    this.alloc = new Allocator(pools);
  }

  /** Creates or updates Service `name` (namespace default) and reconciles it. */
  put(name: string, spec: Spec = {}): Outcome {
    const key = `default/${name}`;
    const old = this.views.get(key);
    const annotations: Record<string, string> = {};
    const from = old?.annotations[ANNOTATION.allocatedFromPool];
    if (from !== undefined) annotations[ANNOTATION.allocatedFromPool] = from;
    if (spec.sharingKey !== undefined) annotations[ANNOTATION.allowSharedIp] = spec.sharingKey;
    if (spec.pool !== undefined) annotations[ANNOTATION.addressPool] = spec.pool;
    if (spec.requestedIps !== undefined) annotations[ANNOTATION.loadBalancerIPs] = spec.requestedIps;
    const ports = (spec.ports ?? ['TCP/80']).map((p) => {
      const [protocol, port] = p.split('/');
      return { protocol: protocol as string, port: Number(port) };
    });
    this.views.set(key, view(name, { createdMs: old?.createdMs ?? this.created++, annotations, ports, ingressIps: old?.ingressIps ?? [] }));
    return this.reconcile(key);
  }

  delete(name: string): Outcome {
    this.views.delete(`default/${name}`);
    return this.reconcile(`default/${name}`);
  }

  /** A config edit: the controller applies it, then reconciles every Service. */
  setPools(pools: PoolSpec[]): Map<string, Outcome> {
    this.pools = pools;
    this.alloc.setPools(pools);
    return this.reconcileAll();
  }

  /** A new leader: re-learns from what the Services show, then reconciles every one. */
  restart(): Map<string, Outcome> {
    this.alloc = new Allocator(this.pools);
    relearn(this.alloc, [...this.views.values()], DEFAULT_LB_CLASS);
    return this.reconcileAll();
  }

  reconcileAll(): Map<string, Outcome> {
    return new Map([...this.views.keys()].sort().map((k) => [k, this.reconcile(k)]));
  }

  /** What status.loadBalancer.ingress of `name` shows. */
  ips(name: string): readonly string[] {
    return this.views.get(`default/${name}`)?.ingressIps ?? [];
  }

  reconcile(key: string): Outcome {
    const v = this.views.get(key);
    const o = reconcileService(this.alloc, key, v, DEFAULT_LB_CLASS);
    if (v && o.status !== undefined) {
      const annotations = { ...v.annotations };
      if (o.pool === null || o.pool === undefined) delete annotations[ANNOTATION.allocatedFromPool];
      else annotations[ANNOTATION.allocatedFromPool] = o.pool;
      this.views.set(key, { ...v, ingressIps: [...o.status], annotations });
    }
    return o;
  }
}
