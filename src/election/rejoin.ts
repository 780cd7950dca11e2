/*
 * When a node back from a stall (or with a new ARP thread) answers again: pure, no I/O.
 *
 * While it was away, peers may have taken its addresses, and their claim sets changed. Each peer sent its
 * whole new set at once when it changed, which the stalled node missed; after that a set comes one chunk
 * a heartbeat, so a peer holding hundreds of addresses takes longer than the listening window to be known
 * again. Answering before every live peer's set is whole keeps addresses a peer took meanwhile: two
 * answerers. So the node answers again once it has listened for its window and knows every live peer's
 * current claims, or, should a set never complete (frames lost for good), once REJOIN_CLAIMS_WAIT_MS more
 * has passed.
 */

/** The longest wait beyond the listening window for peers' claim sets to be whole. */
export const REJOIN_CLAIMS_WAIT_MS = 10_000;

export function mayResume(nowMs: number, listenUntilMs: number, peers: Iterable<{ readonly claimsKnown?: boolean }>): boolean {
  if (nowMs < listenUntilMs) return false;
  if (nowMs >= listenUntilMs + REJOIN_CLAIMS_WAIT_MS) return true;
  for (const p of peers) if (p.claimsKnown === false) return false;
  return true;
}

/** When to ask mayResume again if nothing else changes: the window's end, then the wait's. */
export function resumeCheckAtMs(nowMs: number, listenUntilMs: number): number {
  return nowMs < listenUntilMs ? listenUntilMs : listenUntilMs + REJOIN_CLAIMS_WAIT_MS;
}
