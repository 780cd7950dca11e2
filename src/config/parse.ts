import yaml from 'js-yaml';
import { IpRange, InvalidRangeError } from '../net/ip-range.js';
import { InvalidConfigError, type ConfigProblem } from './config-error.js';
import { SELECTOR_OPERATORS, type LabelSelector, type LabelSelectorRequirement } from './label-selector.js';
import { DEFAULT_ANNOUNCE, type AnnounceSpec, type BarelbConfig, type PoolSpec } from './types.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Kubernetes label key: optional DNS-subdomain prefix, then a name of up to 63 characters.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** A ConfigMap holds at most 1 MiB; past that the text cannot have come from one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * Address entries across all pools. Overlap checks compare entries pairwise, so
 * without a bound a 1 MiB list of single addresses takes many seconds to check.
 */
export const MAX_ADDRESS_ENTRIES = 4096;

/**
 * Parses the `config.yaml` of the barelb ConfigMap. The one parser every
 * program uses. Throws InvalidConfigError listing every problem found, not
 * just the first, so one edit can fix them all.
 */
export function parseConfig(text: string): BarelbConfig {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) {
    throw new InvalidConfigError([
      { path: '', pool: undefined, value: undefined, message: `is ${bytes} bytes, more than a ConfigMap holds (${MAX_CONFIG_BYTES}): list ranges, not single addresses` },
    ]);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    // js-yaml throws plain errors of its own on some tagged nodes (`!!float` over a block); say which part of the text did it.
    let reason =
      err instanceof yaml.YAMLException
        ? (err.message.split('\n')[0] ?? '')
        : `the YAML reader failed (${String(err)})${/(^|\s)!/.test(text) ? ': remove YAML tags such as "!!float"; this config needs none' : ''}`;
    // js-yaml can report a negative column (duplicated keys in flow mappings); the line is still right.
    reason = reason.replace(/\((\d+):-\d+\)$/, '(line $1)');
    // Invisible characters (a name ending in U+2028, say) would make the message unreadable in an Event.
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this escapes
    reason = reason.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (reason.startsWith('expected a single document')) reason += ': the config is one document; remove the "---" or "..." lines';
    throw new InvalidConfigError([{ path: '', pool: undefined, value: undefined, message: `not valid YAML: ${reason}` }]);
  }
  const r = new Reader();
  const config = r.config(doc);
  if (r.problems.length > 0) throw new InvalidConfigError(r.problems);
  return config;
}

class Reader {
  readonly problems: ConfigProblem[] = [];
  private pool: string | undefined;
  private addressEntries = 0;

  problem(path: string, value: unknown, message: string): void {
    this.problems.push({ path, pool: this.pool, value, message });
  }

  config(doc: unknown): BarelbConfig {
    if (doc === undefined || doc === null) return { pools: [], announce: DEFAULT_ANNOUNCE };
    const top = this.mapping('', doc, ['pools', 'announce']);
    if (!top) return { pools: [], announce: DEFAULT_ANNOUNCE };
    const pools: PoolSpec[] = [];
    const indexes: number[] = [];
    const list = top['pools'] === undefined ? [] : this.list('pools', top['pools']);
    list?.forEach((item, i) => {
      const pool = this.poolSpec(`pools[${i}]`, item);
      if (pool) {
        pools.push(pool);
        indexes.push(i);
      }
    });
    this.crossPool(pools, indexes);
    const announce = top['announce'] === undefined ? DEFAULT_ANNOUNCE : this.announce('announce', top['announce']);
    return { pools, announce };
  }

  private poolSpec(path: string, item: unknown): PoolSpec | undefined {
    this.pool = undefined;
    const raw = item as { name?: unknown } | null;
    // Name the pool in every problem, those found before its name is checked too.
    if (typeof raw === 'object' && raw !== null && typeof raw.name === 'string' && DNS_LABEL.test(raw.name)) this.pool = raw.name;
    const m = this.mapping(path, item, ['name', 'addresses', 'autoAssign', 'avoidBuggyIPs', 'namespaces', 'serviceSelector']);
    if (!m) return undefined;
    const name = m['name'];
    if (name === undefined) {
      this.problem(`${path}.name`, undefined, 'is required');
    } else if (typeof name !== 'string' || !DNS_LABEL.test(name)) {
      this.problem(`${path}.name`, name, `${show(name)} must be a DNS label (lowercase letters, digits and "-", at most 63)`);
    } else {
      this.pool = name;
    }
    const ranges = this.addresses(`${path}.addresses`, m['addresses']);
    const autoAssign = this.bool(`${path}.autoAssign`, m['autoAssign'], true);
    const avoidBuggyIPs = this.bool(`${path}.avoidBuggyIPs`, m['avoidBuggyIPs'], false);
    const namespaces = this.stringList(`${path}.namespaces`, m['namespaces'], DNS_LABEL, 'a namespace name');
    const serviceSelector =
      m['serviceSelector'] === undefined || m['serviceSelector'] === null
        ? undefined
        : this.selector(`${path}.serviceSelector`, m['serviceSelector']);
    const pool = this.pool;
    this.pool = undefined;
    if (pool === undefined || !ranges) return undefined;
    return { name: pool, ranges, autoAssign, avoidBuggyIPs, namespaces, serviceSelector };
  }

  private addresses(path: string, v: unknown): IpRange[] | undefined {
    if (v === undefined) {
      this.problem(path, undefined, 'is required: list CIDRs or first-last ranges');
      return undefined;
    }
    const list = this.list(path, v);
    if (!list) return undefined;
    if (list.length === 0) {
      this.problem(path, v, 'is empty: list at least one CIDR or first-last range');
      return undefined;
    }
    this.addressEntries += list.length;
    if (this.addressEntries > MAX_ADDRESS_ENTRIES) {
      this.problem(
        path,
        `<${list.length} entries>`,
        `brings the config to ${this.addressEntries} address entries, more than ${MAX_ADDRESS_ENTRIES}: merge neighbouring addresses into CIDRs or first-last ranges`,
      );
      return undefined;
    }
    const ranges: IpRange[] = [];
    let ok = true;
    list.forEach((item, i) => {
      if (typeof item !== 'string') {
        this.problem(`${path}[${i}]`, item, `${show(item)} must be a string such as "198.51.100.0/24"`);
        ok = false;
        return;
      }
      try {
        const range = IpRange.parse(item);
        const clash = ranges.findIndex((r) => r.overlaps(range));
        if (clash >= 0) {
          this.problem(`${path}[${i}]`, item, `overlaps ${path}[${clash}] (${ranges[clash]?.toString()})`);
          ok = false;
        }
        ranges.push(range);
      } catch (err) {
        if (!(err instanceof InvalidRangeError)) throw err;
        this.problem(`${path}[${i}]`, item, err.message);
        ok = false;
      }
    });
    return ok ? ranges : undefined;
  }

  /** Problems between pools; `at[i]` is the YAML index of pools[i]. */
  private crossPool(pools: readonly PoolSpec[], at: readonly number[]): void {
    const seen = new Map<string, number>();
    pools.forEach((p, i) => {
      const first = seen.get(p.name);
      if (first !== undefined) {
        this.problems.push({ path: `pools[${at[i]}].name`, pool: p.name, value: p.name, message: `duplicate pool name, first used by pools[${first}]` });
      } else {
        seen.set(p.name, at[i] as number);
      }
      for (let j = 0; j < i; j++) {
        const other = pools[j] as PoolSpec;
        for (const [k, a] of p.ranges.entries()) {
          const b = other.ranges.find((r) => r.overlaps(a));
          if (b) {
            this.problems.push({
              path: `pools[${at[i]}].addresses[${k}]`,
              pool: p.name,
              value: a.text ?? a.toString(),
              message: `${a.text ?? a.toString()} overlaps ${b.text ?? b.toString()} of pool "${other.name}": an address can belong to one pool only`,
            });
          }
        }
      }
    });
  }

  private announce(path: string, v: unknown): AnnounceSpec {
    const m = this.mapping(path, v, ['nodeSelector', 'interfaces', 'garpRefreshSeconds']);
    if (!m) return DEFAULT_ANNOUNCE;
    const nodeSelector =
      m['nodeSelector'] === undefined || m['nodeSelector'] === null ? undefined : this.selector(`${path}.nodeSelector`, m['nodeSelector']);
    const interfaces = this.stringList(`${path}.interfaces`, m['interfaces'], /^[^\s/]{1,15}$/, 'an interface name');
    let garpRefreshSeconds = 0;
    const g = m['garpRefreshSeconds'];
    if (g !== undefined) {
      if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > 86_400) {
        this.problem(`${path}.garpRefreshSeconds`, g, `${show(g)} must be a whole number of seconds from 0 to 86400`);
      } else {
        garpRefreshSeconds = g;
      }
    }
    return { nodeSelector, interfaces, garpRefreshSeconds };
  }

  private selector(path: string, v: unknown): LabelSelector | undefined {
    const m = this.mapping(path, v, ['matchLabels', 'matchExpressions']);
    if (!m) return undefined;
    const matchLabels: Record<string, string> = {};
    const labels = m['matchLabels'];
    if (labels !== undefined && labels !== null) {
      const lm = this.mapping(`${path}.matchLabels`, labels, undefined);
      for (const [k, val] of Object.entries(lm ?? {})) {
        if (!LABEL_KEY.test(k)) this.problem(`${path}.matchLabels`, k, `${show(k)} is not a valid label key`);
        else if (typeof val !== 'string' || !LABEL_VALUE.test(val)) {
          this.problem(`${path}.matchLabels.${k}`, val, `${show(val)} is not a valid label value (quote numbers and booleans)`);
        } else matchLabels[k] = val;
      }
    }
    const matchExpressions: LabelSelectorRequirement[] = [];
    const exprs = m['matchExpressions'];
    if (exprs !== undefined && exprs !== null) {
      this.list(`${path}.matchExpressions`, exprs)?.forEach((e, i) => {
        const req = this.requirement(`${path}.matchExpressions[${i}]`, e);
        if (req) matchExpressions.push(req);
      });
    }
    return { matchLabels, matchExpressions };
  }

  private requirement(path: string, v: unknown): LabelSelectorRequirement | undefined {
    const m = this.mapping(path, v, ['key', 'operator', 'values']);
    if (!m) return undefined;
    const key = m['key'];
    const operator = m['operator'];
    if (typeof key !== 'string' || !LABEL_KEY.test(key)) {
      this.problem(`${path}.key`, key, `${show(key)} is not a valid label key`);
      return undefined;
    }
    if (!SELECTOR_OPERATORS.includes(operator as never)) {
      this.problem(`${path}.operator`, operator, `${show(operator)} must be one of ${SELECTOR_OPERATORS.join(', ')}`);
      return undefined;
    }
    const op = operator as LabelSelectorRequirement['operator'];
    const values = this.stringList(`${path}.values`, m['values'], LABEL_VALUE, 'a label value');
    const needsValues = op === 'In' || op === 'NotIn';
    if (needsValues && values.length === 0) {
      this.problem(`${path}.values`, m['values'], `operator ${op} needs at least one value`);
      return undefined;
    }
    if (!needsValues && values.length > 0) {
      this.problem(`${path}.values`, m['values'], `operator ${op} takes no values`);
      return undefined;
    }
    return { key, operator: op, values };
  }

  private mapping(path: string, v: unknown, allowed: readonly string[] | undefined): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.problem(path, v, `must be a mapping, got ${describe(v)}`);
      return undefined;
    }
    const m = v as Record<string, unknown>;
    if (allowed) {
      for (const k of Object.keys(m)) {
        if (!allowed.includes(k)) {
          const hint = allowed.find((a) => a.toLowerCase() === k.toLowerCase().replace(/[-_]/g, ''));
          this.problem(keyPath(path, k), m[k], `unknown key${hint ? `; did you mean "${hint}"?` : ` (known: ${allowed.join(', ')})`}`);
        }
      }
    }
    return m;
  }

  private list(path: string, v: unknown): unknown[] | undefined {
    if (!Array.isArray(v)) {
      this.problem(path, v, `must be a list, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  private bool(path: string, v: unknown, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') {
      this.problem(path, v, `${show(v)} must be true or false`);
      return dflt;
    }
    return v;
  }

  private stringList(path: string, v: unknown, pattern: RegExp, what: string): string[] {
    if (v === undefined || v === null) return [];
    const list = this.list(path, v);
    const out = new Set<string>();
    list?.forEach((item, i) => {
      if (typeof item !== 'string' || !pattern.test(item)) {
        this.problem(`${path}[${i}]`, item, `${show(item)} is not ${what}`);
      } else {
        out.add(item);
      }
    });
    return [...out];
  }
}

/** `path.key`, or `path["key"]` (shortened) when the key is empty, long or has odd characters, so the path still reads as one. */
function keyPath(path: string, key: string): string {
  if (/^[A-Za-z0-9_][-A-Za-z0-9_./]{0,99}$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${show(key)}]`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${show(v)}`;
}

/** A value as it reads in a message. YAML anchors can make cycles, so no JSON.stringify of containers. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}
