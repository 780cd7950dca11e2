import http from 'node:http';
import type { Registry } from 'prom-client';
import { BarelbError } from '../errors.js';
import type { Logger } from './logger.js';

export interface Probes {
  /** Alive: the event loop turns. */
  healthy(): boolean;
  /** Ready: synced with the cluster and able to do its job (or a standby replica). */
  ready(): boolean;
}

/** Serves /metrics (Prometheus text), /healthz and /readyz. */
export async function startHttpServer(addr: string, registry: Registry, probes: Probes, log: Logger): Promise<http.Server> {
  const { host, port } = parseListenAddress(addr);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? probes.healthy() : probes.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  log.info({ addr }, 'serving /metrics, /healthz and /readyz');
  return server;
}

/** HOST:PORT, [IPv6]:PORT or :PORT (every address). Throws InvalidListenAddressError. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidListenAddressError(addr);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export class InvalidListenAddressError extends BarelbError {
  readonly code = 'BARELB_INVALID_LISTEN_ADDRESS';
  constructor(readonly addr: string) {
    super(`listen address "${addr}" must look like HOST:PORT, e.g. 0.0.0.0:7472`);
  }
}
