/**
 * Continuous client traffic for the chaos suite, run in the lab's client
 * namespace: one loop per target URL sends a GET on a fresh connection (so
 * every request goes through ARP and the neighbour table as a new client
 * would), waits `--interval` ms, and again. Per target it counts requests and
 * failures, the longest gap between two successful responses, and which
 * backend answered.
 *
 *   node traffic-generator.js --control 127.0.0.1:7480 [--interval 50] [--timeout 500] URL...
 *
 * Control, on the given loopback address: GET /stats, POST /reset (answers the
 * stats of the window it closes), POST /targets with a JSON array of URLs to add.
 * On SIGTERM it prints the final stats as one JSON line and exits.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

export interface TargetStats {
  requests: number;
  failures: number;
  /** Longest time between two successful responses in this window, counting the one still open. */
  longestGapMs: number;
  /** Time since the last successful response (or the window's start). */
  currentGapMs: number;
  /** Successful responses by the backend's name. */
  backends: Record<string, number>;
  /** Failures by cause (timeout, ECONNREFUSED, HTTP 503, ...). */
  errors: Record<string, number>;
  /** When the longest gap ended (ms since the window's start), -1 while it is still open. */
  longestGapEndedAtMs: number;
}

export interface TrafficStats {
  windowMs: number;
  targets: Record<string, TargetStats>;
}

/** One target's counters over a window; times come from the caller. */
export class TargetWindow {
  private requests = 0;
  private failures = 0;
  private longestGapMs = 0;
  private longestGapEndedAtMs = -1;
  private lastOkMs: number;
  private readonly backends: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};

  constructor(private readonly startMs: number) {
    this.lastOkMs = startMs;
  }

  ok(nowMs: number, backend: string): void {
    this.requests++;
    if (nowMs - this.lastOkMs > this.longestGapMs) {
      this.longestGapMs = nowMs - this.lastOkMs;
      this.longestGapEndedAtMs = nowMs - this.startMs;
    }
    this.lastOkMs = nowMs;
    this.backends[backend] = (this.backends[backend] ?? 0) + 1;
  }

  failed(cause: string): void {
    this.requests++;
    this.failures++;
    this.errors[cause] = (this.errors[cause] ?? 0) + 1;
  }

  stats(nowMs: number): TargetStats {
    const open = nowMs - this.lastOkMs;
    return {
      requests: this.requests,
      failures: this.failures,
      longestGapMs: Math.max(this.longestGapMs, open),
      currentGapMs: open,
      backends: { ...this.backends },
      errors: { ...this.errors },
      longestGapEndedAtMs: open > this.longestGapMs ? -1 : this.longestGapEndedAtMs,
    };
  }
}

/** One GET on a fresh connection; the body of a 200, else a rejection. */
export function get(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function causeOf(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timeout';
  return e.code ?? e.message ?? String(err);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      control: { type: 'string', default: '127.0.0.1:7480' },
      interval: { type: 'string', default: '50' },
      timeout: { type: 'string', default: '500' },
    },
  });
  const intervalMs = Number(values.interval);
  const timeoutMs = Number(values.timeout);
  let windowStart = performance.now();
  const windows = new Map<string, TargetWindow>();
  let running = true;

  const loop = async (url: string): Promise<void> => {
    while (running) {
      try {
        const body = await get(url, timeoutMs);
        const name = (JSON.parse(body) as { name?: string }).name ?? 'unknown';
        windows.get(url)?.ok(performance.now(), name);
      } catch (err) {
        windows.get(url)?.failed(causeOf(err));
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  const add = (url: string): void => {
    if (windows.has(url)) return;
    new URL(url); // a bad URL is the caller's mistake: fail the request that added it
    windows.set(url, new TargetWindow(performance.now()));
    void loop(url);
  };
  const stats = (): TrafficStats => {
    const now = performance.now();
    return { windowMs: Math.round(now - windowStart), targets: Object.fromEntries([...windows].map(([u, w]) => [u, rounded(w.stats(now))])) };
  };

  for (const url of positionals) add(url);

  const [host, port] = (values.control as string).split(':');
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        let out: unknown;
        if (req.method === 'GET' && req.url === '/stats') out = stats();
        else if (req.method === 'POST' && req.url === '/reset') {
          out = stats();
          windowStart = performance.now();
          for (const url of windows.keys()) windows.set(url, new TargetWindow(windowStart));
        } else if (req.method === 'POST' && req.url === '/targets') {
          for (const url of JSON.parse(body) as string[]) add(url);
          out = stats();
        } else {
          res.writeHead(404).end('GET /stats, POST /reset, POST /targets\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead(400).end(`${(err as Error).message}\n`);
      }
    });
  });
  server.listen(Number(port), host);
  process.on('SIGTERM', () => {
    running = false;
    process.stdout.write(`${JSON.stringify(stats())}\n`);
    process.exit(0);
  });
}

function rounded(s: TargetStats): TargetStats {
  return { ...s, longestGapMs: Math.round(s.longestGapMs), currentGapMs: Math.round(s.currentGapMs), longestGapEndedAtMs: Math.round(s.longestGapEndedAtMs) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
