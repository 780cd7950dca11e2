import { formatAge } from './age.js';
import type { StatusReport } from './status-report.js';

/** Rows as aligned columns (the first row is the header), two spaces apart, no trailing blanks. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** `barelb status`'s default output: the config in force, pools, Services, problems. */
export function renderStatusTable(r: StatusReport): string {
  const f = r.inForce;
  const inForce = f
    ? `Config in force: ${f.source} version ${f.sourceVersion ?? '?'}, accepted ${formatAge(r.nowMs - f.acceptedMs)} ago${f.current ? ' (the ConfigMap as it is now)' : ` (the ConfigMap is now ${r.config === 'missing' ? 'missing' : `another version, ${r.config}`})`}.\n\n`
    : '';
  const pools =
    r.pools.length > 0
      ? renderTable([['POOL', 'SIZE', 'USED', 'FREE', 'ADDRESSES'], ...r.pools.map((p) => [p.name, String(p.size), String(p.used), String(p.free), p.addresses.join(',')])])
      : `No pools (ConfigMap ${r.configMap}: ${r.config}).`;
  const services =
    r.services.length > 0
      ? renderTable([
          ['SERVICE', 'IP', 'POOL', 'ANNOUNCED BY'],
          ...r.services.flatMap((s) => {
            const key = `${s.namespace}/${s.name}`;
            if (s.addresses.length === 0) return [[key, '<pending>', '-', '-']];
            return s.addresses.map((a) => [key, a.ip, a.pool ?? '-', a.announcedBy.length > 0 ? a.announcedBy.join(',') : '-']);
          }),
        ])
      : 'No LoadBalancer Services.';
  const problems =
    r.problems.length > 0
      ? renderTable([['PROBLEM', 'OBJECT', 'DETAIL'], ...r.problems.map((p) => [p.kind, p.object, p.reason ? `${p.reason}: ${p.message}` : p.message])])
      : 'No problems.';
  return `${inForce}${pools}\n\n${services}\n\n${problems}`;
}
