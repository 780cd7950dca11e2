import { InvalidRangeError, type IpRange } from '../../net/ip-range.js';
import { InvalidConfigError, type ConfigProblem } from '../config-error.js';
import { DEFAULT_ANNOUNCE, type PoolSpec } from '../types.js';
import type { Conversion, ConversionWarning } from './conversion.js';
import { parseForeignRange, show } from './foreign-range.js';
import { toPoolName } from './pool-name.js';
import { prefixesOf, rangeOf, subtractRanges, intersectRanges, unionRanges } from './range-math.js';
import { renderConfigYaml } from './render.js';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const GLOBAL = 'global';
// Go's strconv.ParseBool, which kube-vip-cloud-provider reads allow-share-* with.
const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

type Kind = 'cidr' | 'range';

/** One `cidr-<scope>` or `range-<scope>` key; scope is a namespace or "global". */
interface AddressKey {
  readonly key: string;
  readonly kind: Kind;
  readonly scope: string;
  readonly ranges: readonly IpRange[];
}

/**
 * Reads kube-vip-cloud-provider's `kubevip` ConfigMap (the whole data map).
 *
 * kube-vip gives a Service in namespace N addresses from the first key of
 * cidr-N, cidr-global, range-N, range-global that exists, and from no other;
 * it never hands out IPv4 addresses ending in .0 or .255, and with
 * `skip-end-ips-in-cidr: "true"` not the first and last address of each
 * IPv4 prefix either. barelb's pools come out in that order (namespace pools
 * restricted to their namespace, avoidBuggyIPs on), so barelb's first choice
 * is kube-vip's. Keys kube-vip never reaches keep their addresses with
 * autoAssign off. What barelb expresses differently comes back as warnings.
 * Throws InvalidConfigError listing every problem.
 */
export function convertKubeVip(data: Readonly<Record<string, string>>): Conversion {
  const problems: ConfigProblem[] = [];
  const warnings: ConversionWarning[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ path, message });
  };
  const skipEnds = data['skip-end-ips-in-cidr'] === 'true';
  const keys: AddressKey[] = [];

  for (const key of Object.keys(data).sort()) {
    const value = data[key] as string;
    const m = /^(cidr|range|allow-share|interface)-(.*)$/s.exec(key);
    if (!m) {
      otherKey(key, value, warn);
      continue;
    }
    const [, what, scope] = m as unknown as [string, string, string];
    if (scope !== GLOBAL && !NAMESPACE.test(scope)) {
      warn(key, `ignored: ${show(scope)} is not a namespace name, so kube-vip never uses this key either; name it ${what}-<namespace> or ${what}-global`);
      continue;
    }
    const who = whoUses(scope);
    if (what === 'allow-share') {
      if (GO_TRUE.includes(value)) {
        warn(
          key,
          `kube-vip lets ${who} share an IPv4 address whenever their ports differ; barelb shares an address only between Services that carry the same barelb.io/allow-shared-ip key (and whose protocol/port pairs differ): annotate the Services that may share, e.g. kubectl annotate service -n ${scope === GLOBAL ? '<namespace>' : scope} <name> barelb.io/allow-shared-ip=${scope}`,
        );
      } else if (!GO_FALSE.includes(value)) {
        warn(key, `${show(value)} is not true or false; kube-vip treats it as false, and nothing is shared`);
      }
      continue;
    }
    if (what === 'interface') {
      warn(
        key,
        `kube-vip announces the addresses of ${who} on ${show(value)}; barelb answers ARP on the interface whose subnet holds an address. If that is not ${show(value)}, restrict barelb with announce.interfaces: [${value}] or speaker --interface ${value} (for every pool: barelb has no per-namespace interface)`,
      );
      continue;
    }
    const parsed = addressKey(key, what as Kind, scope, value, skipEnds, problems, warn);
    if (parsed) keys.push(parsed);
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  if (keys.length === 0) warn('data', 'has no cidr-* or range-* key: no pools, so nothing is assigned');
  const pools = toPools(keys, warn);
  const config = { pools, announce: DEFAULT_ANNOUNCE };
  return { config, yaml: renderConfigYaml(config), warnings };
}

function whoUses(scope: string): string {
  return scope === GLOBAL ? 'Services in namespaces without their own key' : `Services in namespace ${scope}`;
}

function otherKey(key: string, value: string, warn: (path: string, message: string) => void): void {
  switch (key) {
    case 'skip-end-ips-in-cidr':
      if (value !== 'true' && value !== 'false') warn(key, `${show(value)} is not "true" or "false"; kube-vip treats it as false, and so does barelb`);
      return;
    case 'search-order':
      if (value === 'desc') {
        warn(key, 'kube-vip hands out the highest free address first; barelb always takes the lowest free address of a pool, so new Services get different addresses than kube-vip would give them (existing ones keep theirs)');
      } else if (value !== 'asc') {
        warn(key, `${show(value)} is not "asc" or "desc"; kube-vip reads it as asc (lowest free address first), as barelb does`);
      }
      return;
    default:
      warn(key, 'ignored: not a key kube-vip-cloud-provider reads (cidr-*, range-*, allow-share-*, interface-*, skip-end-ips-in-cidr, search-order)');
  }
}

function addressKey(
  key: string,
  kind: Kind,
  scope: string,
  value: string,
  skipEnds: boolean,
  problems: ConfigProblem[],
  warn: (path: string, message: string) => void,
): AddressKey | undefined {
  const who = whoUses(scope);
  const problem = (message: string, v: unknown = value): void => {
    problems.push({ path: key, pool: undefined, value: v, message });
  };
  if (value.trim() === '') {
    warn(key, `ignored: empty, so kube-vip fails to assign an address to ${who}; barelb lets them use the next pool that fits`);
    return undefined;
  }
  if (value.trim() === '0.0.0.0/32') {
    problem(`0.0.0.0/32 asks kube-vip to get addresses by DHCP, which barelb does not do: list the addresses for ${who}, or remove the key`);
    return undefined;
  }
  // kube-vip decides by the value, not the key: anything holding "/" is a list of CIDRs.
  const cidrs = value.includes('/');
  const ranges: IpRange[] = [];
  let ok = true;
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (cidrs && !item.includes('/')) {
      problem(`${show(item)} is not a CIDR, and kube-vip reads a value that holds a CIDR as a list of CIDRs only: put ranges under their own range-${scope} key`, item);
      ok = false;
      continue;
    }
    try {
      ranges.push(parseForeignRange(item, (message) => warn(key, message)));
    } catch (err) {
      if (!(err instanceof InvalidRangeError)) throw err;
      problem(err.message, item);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return { key, kind, scope, ranges: cidrs ? hostsOfCidrs(ranges, skipEnds) : unionRanges(ranges) };
}

/** What kube-vip hands out of a CIDR list: their union as prefixes, less each IPv4 prefix's ends with skip-end-ips-in-cidr. */
function hostsOfCidrs(ranges: readonly IpRange[], skipEnds: boolean): IpRange[] {
  const out: IpRange[] = [];
  for (const r of unionRanges(ranges)) {
    for (const [first, bits] of prefixesOf(r)) {
      const last = first + (1n << BigInt((r.family === 'IPv4' ? 32 : 128) - bits)) - 1n;
      if (skipEnds && r.family === 'IPv4' && bits < 31) out.push(rangeOf(r.family, first + 1n, last - 1n));
      else out.push(rangeOf(r.family, first, last));
    }
  }
  return unionRanges(out);
}

function toPools(keys: readonly AddressKey[], warn: (path: string, message: string) => void): PoolSpec[] {
  const has = (kind: Kind, scope: string): boolean => keys.some((k) => k.kind === kind && k.scope === scope);
  const rank = (k: AddressKey): number => (k.kind === 'cidr' ? 0 : 2) + (k.scope === GLOBAL ? 1 : 0);
  const ordered = [...keys].sort((a, b) => rank(a) - rank(b) || a.scope.localeCompare(b.scope));
  const pools: PoolSpec[] = [];
  const taken: { key: string; pool: string; ranges: readonly IpRange[] }[] = [];
  for (const k of ordered) {
    const name = toPoolName(k.key) as string; // keys are "<kind>-<DNS label>", so only the length can need fixing
    if (name !== k.key) warn(k.key, `becomes pool "${name}" (pool names are at most 63 characters)`);
    let ranges: readonly IpRange[] = k.ranges;
    for (const earlier of taken) {
      const shared = intersectRanges(ranges, earlier.ranges);
      if (shared.length === 0) continue;
      ranges = subtractRanges(ranges, shared);
      warn(
        k.key,
        `${shared.map((r) => r.text).join(', ')} ${shared.length === 1 ? 'is' : 'are'} also in ${earlier.key}; an address belongs to one barelb pool, so ${shared.length === 1 ? 'it stays' : 'they stay'} in pool "${earlier.pool}", which comes first. Make the keys disjoint to decide otherwise`,
      );
    }
    if (ranges.length === 0) {
      warn(k.key, `dropped: every address of it is in an earlier key`);
      continue;
    }
    const shadowedBy = k.kind === 'range' ? (has('cidr', k.scope) ? `cidr-${k.scope}` : has('cidr', GLOBAL) ? `cidr-${GLOBAL}` : undefined) : undefined;
    if (shadowedBy) {
      warn(
        k.key,
        `kube-vip never assigns from it, because ${shadowedBy} exists and comes first; barelb keeps it as pool "${name}" with autoAssign: false, so its addresses serve only Services that ask for them (spec.loadBalancerIP, barelb.io/loadBalancerIPs or barelb.io/address-pool: ${name})`,
      );
    }
    pools.push({
      name,
      ranges,
      autoAssign: shadowedBy === undefined,
      avoidBuggyIPs: ranges.some((r) => r.family === 'IPv4'),
      namespaces: k.scope === GLOBAL ? [] : [k.scope],
      serviceSelector: undefined,
    });
    taken.push({ key: k.key, pool: name, ranges });
  }
  const global = pools.filter((p) => p.autoAssign && p.namespaces.length === 0).map((p) => `"${p.name}"`);
  const scoped = pools.filter((p) => p.autoAssign && p.namespaces.length > 0);
  if (global.length > 0 && scoped.length > 0) {
    warn(
      scoped.map((p) => taken.find((x) => x.pool === p.name)?.key).join(', '),
      `kube-vip gives a Service in namespace ${[...new Set(scoped.map((p) => p.namespaces[0]))].join(', ')} addresses from its namespace's key only, and leaves it pending when that is used up; barelb tries the namespace's pool first and then goes on to ${global.join(', ')}. barelb cannot keep a namespace out of a pool: if that matters, replace the global pool by pools listing the other namespaces (namespaces: [...])`,
    );
  }
  return pools;
}
