import { spawn } from 'node:child_process';
import { BarelbError } from '../errors.js';
import { FORWARD_MARK, NFT_TABLE, renderNodePortTable, renderNodePortTableRemoval, type NodePortForward } from '../net/nft-ruleset.js';
import type { Logger } from '../observability/logger.js';

export class NftablesError extends BarelbError {
  readonly code = 'BARELB_NFTABLES';
}

/**
 * Keeps barelb's nftables table in line with what this node announces
 * (`--forward nodeport`). Touches only its own table, replaces it atomically,
 * runs `nft` only when the rules change, one run at a time.
 */
export class NodePortForwarder {
  private applied: string | undefined;
  /** The table as nft listed it right after the last apply, counters left out: what verify() compares with. */
  private listed: string | undefined;
  private wanted: string | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly markBit: number = FORWARD_MARK,
  ) {}

  /** Resolves once the table says `forwards` (or a later call's rules). */
  async apply(forwards: readonly NodePortForward[]): Promise<void> {
    this.wanted = renderNodePortTable(forwards, this.markBit);
    if (this.wanted === this.applied) return;
    while (this.running) await this.running;
    if (this.wanted === this.applied) return;
    const script = this.wanted;
    this.running = runNft(script).then(
      async () => {
        this.applied = script;
        this.listed = await listTable().catch(() => undefined);
        this.log.info({ rules: forwards.length }, 'nftables table updated');
      },
      (err: unknown) => {
        this.log.error({ err: (err as Error).message }, 'could not update the nftables table');
        throw err;
      },
    );
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Whether the table is still what the last apply made it: false when something outside barelb deleted or
   * edited it (a firewall reload, `nft flush ruleset`, a hand edit). Then the next apply() installs it again.
   * True while nothing was applied yet, or nft cannot list (nothing to compare).
   */
  async verify(): Promise<boolean> {
    if (this.listed === undefined || this.running) return true;
    const expected = this.listed;
    const now = await listTable().catch((err: unknown) => (err instanceof NftablesError && /No such file or directory|does not exist/.test(err.message) ? '' : expected));
    if (now === expected || this.listed !== expected) return true;
    this.applied = undefined;
    this.listed = undefined;
    return false;
  }

  /** Removes the table; called on exit. */
  async remove(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    try {
      await runNft(renderNodePortTableRemoval());
      this.applied = undefined;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not remove the nftables table');
    }
  }
}

/**
 * kube-proxy mode: the table a speaker in nodeport mode left behind (killed, or switched modes) is removed,
 * so its rewrites stop taking VIP traffic. Without nft or CAP_NET_ADMIN there is nothing it could have left.
 */
export async function removeLeftoverTable(log: Logger): Promise<void> {
  try {
    await runNft(renderNodePortTableRemoval());
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'no nodeport table removed (none, or no nft / CAP_NET_ADMIN here)');
  }
}

/** `nft list table inet barelb` with the counters' values left out (they change with every packet). */
async function listTable(): Promise<string> {
  const out = await runNftCommand(['list', 'table', 'inet', NFT_TABLE]);
  return out.replace(/counter packets \d+ bytes \d+/g, 'counter');
}

function runNftCommand(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new NftablesError(`cannot run nft: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new NftablesError(`nft ${args.join(' ')} failed: ${stderr.trim()}`))));
  });
}

export function runNft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new NftablesError(`cannot run nft: ${err.message} (is the nftables package installed?)`)));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const denied = /Operation not permitted|Permission denied/.test(stderr);
      reject(new NftablesError(denied ? `nft was refused: --forward nodeport needs CAP_NET_ADMIN (${stderr.trim()})` : `nft failed: ${stderr.trim()}`));
    });
    child.stdin.end(script);
  });
}
