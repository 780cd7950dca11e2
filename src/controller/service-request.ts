import { InvalidRequestError } from '../ipam/errors.js';
import type { AddressRequest, IpFamilyPolicy } from '../ipam/allocator.js';
import type { ServiceView } from '../k8s/service-view.js';
import { IpAddress, type IpFamily } from '../net/ip.js';
import { ANNOTATION, ANNOTATION_ALIASES } from '../names.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SHARING_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?$/;
const POLICIES: readonly string[] = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];


export interface ReadRequest {
  /** The request, with any invalid part left out. */
  readonly request: AddressRequest;
  /** Set when some part of the Service's request is invalid. */
  readonly error: InvalidRequestError | undefined;
  /** Other implementations' annotations read in place of barelb's (unset) own. */
  readonly aliases: readonly { readonly read: string; readonly as: string }[];
}

type Aliased = keyof typeof ANNOTATION_ALIASES;

/** The annotation a Service sets for `which`: barelb's own, else the first of its aliases present. */
export function annotationFor(view: ServiceView, which: Aliased): { readonly name: string; readonly value: string } | undefined {
  for (const name of [ANNOTATION[which], ...ANNOTATION_ALIASES[which]]) {
    const value = view.annotations[name];
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/** The addresses status.loadBalancer.ingress shows, those that parse. */
export function shownAddresses(view: ServiceView): IpAddress[] {
  return view.ingressIps.map((s) => IpAddress.tryParse(s)).filter((ip): ip is IpAddress => ip !== undefined);
}

/** Reads what a Service asks for from its spec and annotations. Never throws. */
export function readRequest(view: ServiceView): ReadRequest {
  let error: InvalidRequestError | undefined;
  const note = (e: InvalidRequestError): void => {
    error ??= e;
  };
  const aliases: { read: string; as: string }[] = [];
  const read = (which: Aliased): { name: string; value: string } | undefined => {
    const a = annotationFor(view, which);
    if (a && a.name !== ANNOTATION[which]) aliases.push({ read: a.name, as: ANNOTATION[which] });
    return a;
  };

  const poolAnnotation = read('addressPool');
  let pool = poolAnnotation?.value.trim();
  if (poolAnnotation && pool !== undefined && !DNS_LABEL.test(pool)) {
    note(new InvalidRequestError(`annotation ${poolAnnotation.name}`, clip(pool), 'is not a pool name (a DNS label)'));
    pool = undefined;
  }

  const keyAnnotation = read('allowSharedIp');
  let sharingKey = keyAnnotation?.value.trim();
  if (keyAnnotation && sharingKey !== undefined && !SHARING_KEY.test(sharingKey)) {
    note(new InvalidRequestError(`annotation ${keyAnnotation.name}`, clip(sharingKey), 'must be letters, digits, "-", "_", "." or "/", at most 253'));
    sharingKey = undefined;
  }

  const requestedIps: IpAddress[] = [];
  const ipsAnnotation = read('loadBalancerIPs');
  const annotated = ipsAnnotation?.value;
  const [field, text] = ipsAnnotation ? [`annotation ${ipsAnnotation.name}`, ipsAnnotation.value] : ['spec.loadBalancerIP', view.loadBalancerIP ?? ''];
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = parts.find((p) => IpAddress.tryParse(p) === undefined);
  if (bad !== undefined) {
    note(new InvalidRequestError(field, clip(text), `${JSON.stringify(clip(bad))} is not an IP address`));
  } else if (parts.length > 2) {
    note(new InvalidRequestError(field, clip(text), 'at most one IPv4 and one IPv6 address'));
  } else {
    const ips = parts.map((p) => IpAddress.parse(p));
    if (ips.length === 2 && ips[0]?.family === ips[1]?.family) {
      note(new InvalidRequestError(field, clip(text), 'at most one address per IP family'));
    } else {
      requestedIps.push(...ips);
    }
  }
  if (annotated !== undefined && view.loadBalancerIP && requestedIps.length > 0) {
    const specIp = IpAddress.tryParse(view.loadBalancerIP);
    if (!specIp || !requestedIps.some((ip) => ip.equals(specIp))) {
      note(new InvalidRequestError('spec.loadBalancerIP', clip(view.loadBalancerIP), `contradicts ${ipsAnnotation?.name ?? ANNOTATION.loadBalancerIPs} ${JSON.stringify(clip(annotated))}`));
    }
  }

  let families = view.ipFamilies.filter((f): f is IpFamily => f === 'IPv4' || f === 'IPv6');
  if (families.length === 0) families = requestedIps.length > 0 ? [...new Set(requestedIps.map((ip) => ip.family))] : ['IPv4'];
  const familyPolicy = (POLICIES.includes(view.ipFamilyPolicy ?? '') ? view.ipFamilyPolicy : 'SingleStack') as IpFamilyPolicy;

  const ports = [...new Set(view.ports.map((p) => `${p.protocol}/${p.port}`))];
  return {
    request: {
      key: view.key,
      namespace: view.namespace,
      labels: view.labels,
      pool,
      requestedIps,
      families,
      familyPolicy,
      sharingKey,
      ports,
    },
    error,
    aliases,
  };
}

/**
 * A user's value as an error shows it. Events hold 1,024 characters and the
 * value comes before the reason, so a huge annotation would push the reason out.
 */
function clip(value: string): string {
  return value.length <= 100 ? value : `${value.slice(0, 60)}... (${value.length} characters)`;
}
