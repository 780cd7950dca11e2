import yaml from 'js-yaml';
import type { LabelSelector } from '../label-selector.js';
import type { BarelbConfig } from '../types.js';

/** barelb's `config.yaml` for a config, leaving out what equals the defaults. */
export function renderConfigYaml(config: BarelbConfig): string {
  const doc: Record<string, unknown> = {
    pools: config.pools.map((p) => ({
      name: p.name,
      addresses: p.ranges.map((r) => r.text ?? r.toString()),
      ...(p.autoAssign ? {} : { autoAssign: false }),
      ...(p.avoidBuggyIPs ? { avoidBuggyIPs: true } : {}),
      ...(p.namespaces.length > 0 ? { namespaces: [...p.namespaces] } : {}),
      ...(p.serviceSelector ? { serviceSelector: selector(p.serviceSelector) } : {}),
    })),
  };
  const a = config.announce;
  const announce = {
    ...(a.nodeSelector ? { nodeSelector: selector(a.nodeSelector) } : {}),
    ...(a.interfaces.length > 0 ? { interfaces: [...a.interfaces] } : {}),
    ...(a.garpRefreshSeconds > 0 ? { garpRefreshSeconds: a.garpRefreshSeconds } : {}),
  };
  if (Object.keys(announce).length > 0) doc['announce'] = announce;
  return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

function selector(s: LabelSelector): Record<string, unknown> {
  return {
    ...(Object.keys(s.matchLabels).length > 0 ? { matchLabels: { ...s.matchLabels } } : {}),
    ...(s.matchExpressions.length > 0 ? { matchExpressions: s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values.length > 0 ? { values: [...e.values] } : {}) })) } : {}),
  };
}
