/**
 * Human-readable rendering of pino's JSON lines, for a terminal:
 *   01:50:03.214 INFO  controller/election  became leader  identity=ctl-1 lease=barelb-controller
 * Pure: one JSON line in, one text line out. A line that isn't a JSON object
 * passes through unchanged, so nothing written to the log is ever lost.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
// Shown in the prefix or dropped as noise; everything else becomes key=value.
const PREFIX_KEYS = new Set(['level', 'time', 'msg', 'component', 'part', 'app', 'pid', 'hostname']);

export function formatLogLine(line: string): string {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return line;
  const r = rec as Record<string, unknown>;
  const time = typeof r['time'] === 'string' ? clock(r['time']) : '';
  const level = (LEVELS[r['level'] as number] ?? String(r['level'] ?? '')).padEnd(5);
  const who = [r['component'], r['part']].filter((x) => typeof x === 'string').join('/');
  const fields = Object.entries(r)
    .filter(([k]) => !PREFIX_KEYS.has(k))
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const msg = typeof r['msg'] === 'string' ? r['msg'] : '';
  const head = [time, level, who].filter((s) => s !== '').join(' ');
  return [head, [msg, ...fields].filter((s) => s !== '').join(' ')].join('  ');
}

/** HH:MM:SS.mmm of an ISO timestamp; the date is noise in a terminal. */
function clock(iso: string): string {
  const m = /T(\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(iso);
  return m ? (m[1] as string) : iso;
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (typeof v === 'object' && v !== null && 'message' in v && 'type' in v) {
    // pino's serialised Error: the message is what a reader wants first; the stack on its own lines.
    const e = v as { message: unknown; stack?: unknown };
    return JSON.stringify(e.message) + (typeof e.stack === 'string' ? `\n${e.stack.replace(/^/gm, '    ')}` : '');
  }
  return JSON.stringify(v);
}
