import type { Agent } from 'node:http';
import { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Every API request but a watch is aborted after this long, whatever the caller does: client-node 1.4 sets
 * no timeout, and a request on a half-open connection would wait for the kernel's retransmissions (~15 min).
 * Callers that must know sooner race a shorter one (withDeadline).
 */
export const REQUEST_DEADLINE_MS = 30_000;

/**
 * Idle time before TCP keepalive probes on every connection to the API server. libuv (Node 20) probes every
 * second, 10 times: a peer gone without a word (a half-open watch) is noticed about 15 s later, where
 * client-node's own 30 s setting took 40 s and a watch without it waited for the server's timeout.
 */
export const KEEPALIVE_IDLE_MS = 5_000;

/** Puts the request deadline and the keepalive on every request and watch made through `kc`. */
export function applyRequestDeadlines(kc: KubeConfig, requestMs = REQUEST_DEADLINE_MS, keepAliveMs = KEEPALIVE_IDLE_MS): KubeConfig {
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(requestMs));
    const agent = context.getAgent();
    if (agent) keepAlive(agent, keepAliveMs);
  };
  const fetchOptions = kc.applyToFetchOptions.bind(kc);
  kc.applyToFetchOptions = async (opts) => {
    const init = await fetchOptions(opts);
    const agent = (init as { agent?: unknown }).agent;
    if (agent && typeof agent === 'object' && 'createConnection' in agent) keepAlive(agent as Agent, keepAliveMs);
    return init;
  };
  return kc;
}

/**
 * Sockets the agent opens probe after `ms` idle, and keep probing that soon: client-node's watch sets 30 s on
 * them after connecting, which is clamped. Proxy agents that connect through a callback are left as they are.
 */
function keepAlive(agent: Agent, ms: number): void {
  const marked = agent as Agent & { barelbKeepAlive?: true };
  if (marked.barelbKeepAlive) return;
  marked.barelbKeepAlive = true;
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => unknown }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => unknown }).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    if (socket instanceof Socket) {
      const set = socket.setKeepAlive.bind(socket);
      socket.setKeepAlive = (enable?: boolean, delay?: number) => set(enable, Math.min(delay || ms, ms));
      socket.setKeepAlive(true, ms);
    }
    return socket;
  };
}
