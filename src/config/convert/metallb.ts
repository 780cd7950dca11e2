import yaml from 'js-yaml';
import { InvalidRangeError, type IpRange } from '../../net/ip-range.js';
import { InvalidConfigError, type ConfigProblem } from '../config-error.js';
import { parseConfig } from '../parse.js';
import { DEFAULT_ANNOUNCE, type PoolSpec } from '../types.js';
import type { Conversion, ConversionWarning } from './conversion.js';
import { parseForeignRange, show } from './foreign-range.js';
import { toPoolName } from './pool-name.js';
import { renderConfigYaml } from './render.js';

/** The ConfigMap key MetalLB (before 0.13) reads its YAML from. */
export const METALLB_CONFIG_KEY = 'config';

const TOP_KEYS = ['peers', 'bgp-communities', 'address-pools', 'bfd-profiles', 'peer-autodiscovery'];
const POOL_KEYS = ['name', 'protocol', 'addresses', 'auto-assign', 'avoid-buggy-ips', 'bgp-advertisements'];
// MetalLB parses with YAML 1.1 (gopkg.in/yaml.v2), where these words are booleans too.
const YAML11_TRUE = ['y', 'yes', 'on', 'true'];
const YAML11_FALSE = ['n', 'no', 'off', 'false'];

/**
 * Reads MetalLB's pre-0.13 ConfigMap format (the YAML under `config`) with
 * MetalLB's defaults (auto-assign true, avoid-buggy-ips false). Layer 2 pools
 * carry over; BGP has no barelb equivalent: a bgp pool is an error, BGP
 * sessions and communities are dropped with a warning. Throws
 * InvalidConfigError listing every problem.
 */
export function convertMetallb(text: string): Conversion {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const reason = err instanceof yaml.YAMLException ? err.message.split('\n')[0] : String(err);
    throw new InvalidConfigError([{ path: METALLB_CONFIG_KEY, pool: undefined, value: undefined, message: `not valid YAML: ${reason}` }]);
  }
  const r = new MetallbReader();
  const pools = r.read(doc);
  if (r.problems.length > 0) throw new InvalidConfigError(r.problems);
  const config = { pools, announce: DEFAULT_ANNOUNCE };
  return { config, yaml: renderConfigYaml(config), warnings: r.warnings };
}

class MetallbReader {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: ConversionWarning[] = [];
  private pool: string | undefined;

  private problem(path: string, value: unknown, message: string): void {
    this.problems.push({ path, pool: this.pool, value, message });
  }

  read(doc: unknown): PoolSpec[] {
    if (doc === undefined || doc === null) return [];
    const top = this.mapping('', doc, TOP_KEYS);
    if (!top) return [];
    this.bgpOnly(top);
    const list = top['address-pools'];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) {
      this.problem('address-pools', list, 'must be a list of pools');
      return [];
    }
    const pools: PoolSpec[] = [];
    const at: number[] = [];
    list.forEach((item, i) => {
      const p = this.poolSpec(`address-pools[${i}]`, item);
      if (p) {
        pools.push(p);
        at.push(i);
      }
    });
    this.crossPool(pools, at);
    return pools;
  }

  /** BGP settings: used by bgp pools only, which are errors themselves, so dropping them changes nothing for layer2 pools. */
  private bgpOnly(top: Record<string, unknown>): void {
    const drop = (key: string, what: string): void => {
      const v = top[key];
      const empty = v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
      if (!empty) this.warnings.push({ path: key, message: `ignored: ${what} are BGP settings and barelb announces with ARP (layer 2) only; layer2 pools never used them` });
    };
    drop('peers', 'BGP peers');
    drop('bgp-communities', 'BGP communities');
    drop('bfd-profiles', 'BFD profiles');
    drop('peer-autodiscovery', 'BGP peer autodiscovery settings');
  }

  private poolSpec(path: string, item: unknown): PoolSpec | undefined {
    this.pool = undefined;
    const rawName = (item as { name?: unknown } | null)?.name;
    if (typeof rawName === 'string' && rawName !== '') this.pool = rawName;
    const m = this.mapping(path, item, POOL_KEYS);
    if (!m) return undefined;
    let name: string | undefined;
    if (rawName === undefined || rawName === null || rawName === '') {
      this.problem(`${path}.name`, rawName, 'is required (MetalLB rejects a pool without one too)');
    } else if (typeof rawName !== 'string') {
      this.problem(`${path}.name`, rawName, `${show(rawName)} must be a string`);
    } else {
      name = toPoolName(rawName);
      if (name === undefined) {
        this.problem(`${path}.name`, rawName, `${show(rawName)} cannot be turned into a barelb pool name (a DNS label): rename the pool with lowercase letters, digits and "-"`);
      } else if (name !== rawName) {
        this.warnings.push({
          path: `${path}.name`,
          message: `pool "${rawName}" is named "${name}" in barelb (pool names are DNS labels); Services that pick it with metallb.universe.tf/address-pool need barelb.io/address-pool: ${name}`,
        });
      }
    }
    const protocol = m['protocol'];
    if (protocol === undefined || protocol === null || protocol === '') {
      this.problem(`${path}.protocol`, protocol, 'is required (MetalLB rejects a pool without it too): set protocol: layer2');
    } else if (protocol === 'bgp') {
      this.problem(
        `${path}.protocol`,
        protocol,
        'bgp is not supported: barelb announces addresses with ARP (layer 2) only. Set protocol: layer2 if the addresses are on the nodes\' LAN, or leave this pool to MetalLB and remove it here',
      );
    } else if (protocol !== 'layer2') {
      this.problem(`${path}.protocol`, protocol, `${show(protocol)} is not a MetalLB protocol: set protocol: layer2`);
    }
    const ads = m['bgp-advertisements'];
    if (protocol !== 'bgp' && ads !== undefined && ads !== null && !(Array.isArray(ads) && ads.length === 0)) {
      this.problem(`${path}.bgp-advertisements`, ads, 'a layer2 pool cannot have bgp-advertisements (MetalLB rejects this too): remove it');
    }
    const ranges = this.addresses(`${path}.addresses`, m['addresses']);
    const autoAssign = this.bool(`${path}.auto-assign`, m['auto-assign'], true);
    const avoidBuggyIPs = this.bool(`${path}.avoid-buggy-ips`, m['avoid-buggy-ips'], false);
    this.pool = undefined;
    if (name === undefined || !ranges) return undefined;
    return { name, ranges, autoAssign, avoidBuggyIPs, namespaces: [], serviceSelector: undefined };
  }

  private addresses(path: string, v: unknown): IpRange[] | undefined {
    if (!Array.isArray(v) || v.length === 0) {
      this.problem(path, v, v === undefined || v === null || Array.isArray(v) ? 'is required: list CIDRs or first-last ranges (MetalLB rejects a pool without them too)' : 'must be a list of CIDRs or first-last ranges');
      return undefined;
    }
    const ranges: IpRange[] = [];
    let ok = true;
    v.forEach((item, i) => {
      const range = this.address(`${path}[${i}]`, item);
      if (!range) {
        ok = false;
        return;
      }
      const clash = ranges.findIndex((r) => r.overlaps(range));
      if (clash >= 0) {
        this.problem(`${path}[${i}]`, item, `overlaps ${path}[${clash}] (${ranges[clash]?.text}): MetalLB rejects overlapping addresses too; remove one`);
        ok = false;
      }
      ranges.push(range);
    });
    return ok ? ranges : undefined;
  }

  private address(path: string, item: unknown): IpRange | undefined {
    if (typeof item !== 'string') {
      this.problem(path, item, `${show(item)} must be a string such as "198.51.100.0/24" or "198.51.100.10-198.51.100.20"`);
      return undefined;
    }
    try {
      return parseForeignRange(item, (message) => this.warnings.push({ path, message }));
    } catch (err) {
      if (!(err instanceof InvalidRangeError)) throw err;
      this.problem(path, item, err.message);
      return undefined;
    }
  }

  /**
   * Between pools (names, overlaps) MetalLB checks what barelb's parser does:
   * let it check the pools read so far, and turn its paths into MetalLB's.
   */
  private crossPool(pools: readonly PoolSpec[], at: readonly number[]): void {
    try {
      parseConfig(renderConfigYaml({ pools, announce: DEFAULT_ANNOUNCE }));
    } catch (err) {
      if (!(err instanceof InvalidConfigError)) throw err;
      const metallb = (s: string): string => s.replace(/\bpools\[(\d+)\]/g, (_, i: string) => `address-pools[${at[Number(i)]}]`);
      for (const p of err.problems) this.problems.push({ ...p, path: metallb(p.path), message: `${metallb(p.message)} (MetalLB rejects this too)` });
    }
  }

  private bool(path: string, v: unknown, dflt: boolean): boolean {
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && YAML11_TRUE.includes(v.toLowerCase())) return true;
    if (typeof v === 'string' && YAML11_FALSE.includes(v.toLowerCase())) return false;
    this.problem(path, v, `${show(v)} must be true or false`);
    return dflt;
  }

  private mapping(path: string, v: unknown, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.problem(path || METALLB_CONFIG_KEY, v, `must be a mapping, got ${Array.isArray(v) ? 'a list' : `${typeof v} ${show(v)}`}`);
      return undefined;
    }
    const m = v as Record<string, unknown>;
    for (const k of Object.keys(m)) {
      if (allowed.includes(k)) continue;
      const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
      const hint = allowed.find((a) => norm(a) === norm(k));
      this.problem(path ? `${path}.${k}` : k, m[k], `unknown key (MetalLB rejects it too)${hint ? `; did you mean "${hint}"?` : `; known: ${allowed.join(', ')}`}`);
    }
    return m;
  }
}
