import yaml from 'js-yaml';
import { InvalidRangeError } from '../../net/ip-range.js';
import { InvalidConfigError, type ConfigProblem } from '../config-error.js';
import { selectorMatches, type LabelSelector } from '../label-selector.js';
import { parseConfig } from '../parse.js';
import type { Conversion, ConversionWarning } from './conversion.js';
import { parseForeignRange, show } from './foreign-range.js';
import { toPoolName } from './pool-name.js';

/** MetalLB's API group since 0.13 (2022), when its ConfigMap gave way to these objects. */
const GROUP = 'metallb.io';
const BGP_KINDS = ['BGPPeer', 'BGPAdvertisement', 'BFDProfile', 'Community'];

interface K8sObject {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown; readonly labels?: unknown };
  readonly spec?: unknown;
}

/**
 * The MetalLB objects among a manifest's (readManifestObjects: as `kubectl get ipaddresspools,l2advertisements
 * -A -o yaml` prints them, or the multi-document YAML kept in git); undefined when there are none, so the
 * caller reads the manifest as a ConfigMap instead.
 */
export function metallbObjects(objects: readonly Record<string, unknown>[]): K8sObject[] | undefined {
  const found = objects.filter((o) => typeof o['apiVersion'] === 'string' && o['apiVersion'].startsWith(`${GROUP}/`));
  return found.length > 0 ? (found as K8sObject[]) : undefined;
}

/**
 * MetalLB's IPAddressPool and L2Advertisement objects in barelb's terms. Pools carry over with their
 * addresses, autoAssign, avoidBuggyIPs, namespaces and (one) service selector, ordered by
 * serviceAllocation.priority as MetalLB prefers them. barelb announces every pool from the nodes and
 * interfaces of one `announce` section, so per-advertisement differences become warnings that say what
 * changes. BGP objects are refused by name. Throws InvalidConfigError listing every problem.
 */
export function convertMetallbObjects(objects: readonly K8sObject[]): Conversion {
  const problems: ConfigProblem[] = [];
  const warnings: ConversionWarning[] = [];
  const where = (o: K8sObject): string => `${String(o.kind)} ${[o.metadata?.namespace, o.metadata?.name].filter((x) => typeof x === 'string').join('/')}`;

  for (const o of objects) {
    if (BGP_KINDS.includes(String(o.kind))) {
      problems.push({ path: where(o), pool: undefined, value: undefined, message: 'BGP is not supported: barelb announces with ARP (layer 2) only. Leave BGP to MetalLB, or drop this object from the input' });
    } else if (o.kind !== 'IPAddressPool' && o.kind !== 'L2Advertisement') {
      warnings.push({ path: where(o), message: `ignored: barelb has no equivalent of a MetalLB ${String(o.kind)}` });
    }
  }

  interface Pool {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly priority: number | undefined;
    readonly doc: Record<string, unknown>;
  }
  const pools: Pool[] = [];
  for (const o of objects.filter((x) => x.kind === 'IPAddressPool')) {
    const path = where(o);
    const raw = typeof o.metadata?.name === 'string' ? o.metadata.name : '';
    const name = toPoolName(raw);
    if (name === undefined) {
      problems.push({ path, pool: raw, value: raw, message: `${show(raw)} cannot be turned into a barelb pool name (a DNS label)` });
      continue;
    }
    const spec = isMapping(o.spec) ? o.spec : {};
    const addresses: string[] = [];
    const list = Array.isArray(spec['addresses']) ? spec['addresses'] : [];
    if (list.length === 0) problems.push({ path: `${path}: spec.addresses`, pool: name, value: spec['addresses'], message: 'is required: list CIDRs or first-last ranges' });
    list.forEach((a, i) => {
      try {
        if (typeof a !== 'string') throw new InvalidRangeError(show(a), 'must be a string such as "198.51.100.0/24" or "198.51.100.10-198.51.100.20"');
        const r = parseForeignRange(a, (message) => warnings.push({ path: `${path}: spec.addresses[${i}]`, message }));
        addresses.push(r.text ?? r.toString());
      } catch (err) {
        if (!(err instanceof InvalidRangeError)) throw err;
        problems.push({ path: `${path}: spec.addresses[${i}]`, pool: name, value: a, message: err.message });
      }
    });
    const alloc = isMapping(spec['serviceAllocation']) ? spec['serviceAllocation'] : {};
    const doc: Record<string, unknown> = { name, addresses };
    if (spec['autoAssign'] === false) doc['autoAssign'] = false;
    if (spec['avoidBuggyIPs'] === true) doc['avoidBuggyIPs'] = true;
    const namespaces = Array.isArray(alloc['namespaces']) ? alloc['namespaces'] : [];
    if (namespaces.length > 0) doc['namespaces'] = namespaces;
    const nsSelectors = Array.isArray(alloc['namespaceSelectors']) ? alloc['namespaceSelectors'] : [];
    if (nsSelectors.length > 0) {
      warnings.push({
        path: `${path}: spec.serviceAllocation.namespaceSelectors`,
        message:
          namespaces.length > 0
            ? `barelb selects namespaces by name only: the pool serves ${namespaces.join(', ')} and no longer the namespaces these selectors match; add them to namespaces`
            : 'barelb selects namespaces by name only: without names the pool now serves every namespace; list the namespaces the selectors match in namespaces',
      });
    }
    const svcSelectors = Array.isArray(alloc['serviceSelectors']) ? alloc['serviceSelectors'] : [];
    if (svcSelectors.length > 0) doc['serviceSelector'] = svcSelectors[0];
    if (svcSelectors.length > 1) {
      warnings.push({ path: `${path}: spec.serviceAllocation.serviceSelectors`, message: 'barelb takes one serviceSelector per pool: only the first is kept, so Services only the others match no longer get this pool' });
    }
    const priority = typeof alloc['priority'] === 'number' ? alloc['priority'] : undefined;
    if (raw !== name) warnings.push({ path, message: `pool "${raw}" is named "${name}" in barelb (pool names are DNS labels); Services that name it need barelb.io/address-pool: ${name}` });
    pools.push({ name, labels: stringMap(o.metadata?.labels), priority, doc });
  }
  // MetalLB prefers a lower priority number, and pools without one last; barelb tries pools in order.
  const ordered = [...pools].sort((a, b) => (a.priority ?? Infinity) - (b.priority ?? Infinity));

  const ads = objects.filter((x) => x.kind === 'L2Advertisement');
  const announced = new Set<string>();
  const nodeSelectors: string[] = [];
  const interfaceSets: string[][] = [];
  for (const o of ads) {
    const spec = isMapping(o.spec) ? o.spec : {};
    const names = (Array.isArray(spec['ipAddressPools']) ? spec['ipAddressPools'] : []).map((n) => toPoolName(String(n)));
    const selectors = (Array.isArray(spec['ipAddressPoolSelectors']) ? spec['ipAddressPoolSelectors'] : []).map(asSelector);
    for (const p of pools) {
      const all = names.length === 0 && selectors.length === 0;
      if (all || names.includes(p.name) || selectors.some((s) => selectorMatches(s, p.labels))) announced.add(p.name);
    }
    const ns = Array.isArray(spec['nodeSelectors']) ? spec['nodeSelectors'] : [];
    nodeSelectors.push(ns.length === 0 ? '' : JSON.stringify(ns));
    const ifs = Array.isArray(spec['interfaces']) ? spec['interfaces'].map(String) : [];
    interfaceSets.push(ifs);
  }
  if (ads.length === 0) {
    warnings.push({ path: 'L2Advertisement', message: 'none in the input: MetalLB announces none of these pools, barelb announces every one' });
  } else {
    for (const p of pools) {
      if (!announced.has(p.name)) warnings.push({ path: `IPAddressPool ${p.name}`, message: 'no L2Advertisement selects it, so MetalLB does not announce it; barelb announces every pool' });
    }
  }

  const announce: Record<string, unknown> = {};
  const distinctNodes = [...new Set(nodeSelectors)];
  if (distinctNodes.length === 1 && distinctNodes[0] !== '') {
    const list = JSON.parse(distinctNodes[0] as string) as unknown[];
    announce['nodeSelector'] = list[0];
    if (list.length > 1) warnings.push({ path: 'L2Advertisement: spec.nodeSelectors', message: 'barelb takes one node selector: only the first is kept, so nodes only the others match no longer announce' });
  } else if (distinctNodes.length > 1) {
    warnings.push({ path: 'L2Advertisement: spec.nodeSelectors', message: 'the advertisements select different nodes; barelb announces every pool from the same nodes: every node may announce now; set announce.nodeSelector' });
  }
  const restricted = interfaceSets.length > 0 && interfaceSets.every((s) => s.length > 0);
  if (restricted) announce['interfaces'] = [...new Set(interfaceSets.flat())].sort();
  if (new Set(interfaceSets.map((s) => [...s].sort().join(','))).size > 1) {
    warnings.push({
      path: 'L2Advertisement: spec.interfaces',
      message: restricted ? 'the advertisements name different interfaces; barelb announces every pool on all of them' : 'some advertisements name interfaces and some do not; barelb announces on any interface whose subnet holds the address',
    });
  }

  const doc: Record<string, unknown> = { pools: ordered.map((p) => p.doc) };
  if (Object.keys(announce).length > 0) doc['announce'] = announce;
  const text = yaml.dump(doc, { lineWidth: -1, noRefs: true });
  if (problems.length === 0) {
    try {
      return { config: parseConfig(text), yaml: text, warnings };
    } catch (err) {
      if (!(err instanceof InvalidConfigError)) throw err;
      problems.push(...err.problems.map((p) => ({ ...p, message: `${p.message} (in barelb's terms, after conversion)` })));
    }
  }
  throw new InvalidConfigError(problems);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isMapping(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** A MetalLB label selector as matching needs it (shape only; barelb's parser validates what is kept). */
function asSelector(v: unknown): LabelSelector {
  const m = isMapping(v) ? v : {};
  const exprs = Array.isArray(m['matchExpressions']) ? m['matchExpressions'].filter(isMapping) : [];
  return {
    matchLabels: stringMap(m['matchLabels']),
    matchExpressions: exprs.map((e) => ({
      key: String(e['key']),
      operator: (['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(e['operator'])) ? e['operator'] : 'In') as 'In',
      values: Array.isArray(e['values']) ? e['values'].map(String) : [],
    })),
  };
}
