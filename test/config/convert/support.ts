import { InvalidConfigError, type ConfigProblem } from '../../../src/config/config-error.js';
import type { Conversion } from '../../../src/config/convert/conversion.js';
import { parseConfig } from '../../../src/config/parse.js';
import type { BarelbConfig } from '../../../src/config/types.js';

/** Pools with ranges printed as barelb's YAML has them, so `t.same` compares text. */
export function summary(c: BarelbConfig): unknown[] {
  return c.pools.map((p) => ({ name: p.name, ranges: p.ranges.map((r) => r.text), autoAssign: p.autoAssign, avoidBuggyIPs: p.avoidBuggyIPs, namespaces: p.namespaces }));
}

/** The problems a conversion throws; a test failure when it converts. */
export function problemsOf(convert: () => unknown): readonly ConfigProblem[] {
  try {
    convert();
  } catch (err) {
    if (err instanceof InvalidConfigError) return err.problems;
    throw err;
  }
  throw new Error('the conversion accepted the input');
}

/** parseConfig(yaml) gives the converted config back: the same pools, fields, range texts and addresses. */
export function roundTrips(c: Conversion): boolean {
  const again = parseConfig(c.yaml);
  const addresses = (x: BarelbConfig): string => JSON.stringify(x.pools.map((p) => p.ranges.map((r) => `${r.family} ${r.first}-${r.last}`)));
  const rest = (x: BarelbConfig): string => JSON.stringify({ announce: x.announce, selectors: x.pools.map((p) => p.serviceSelector ?? null) });
  return JSON.stringify(summary(again)) === JSON.stringify(summary(c.config)) && addresses(again) === addresses(c.config) && rest(again) === rest(c.config);
}
