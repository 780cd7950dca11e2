import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BarelbError } from '../errors.js';

/** What the kernel says about a network interface (SIOCGIF* ioctls; no capability needed). */
export interface InterfaceInfo {
  readonly index: number;
  readonly mac: Buffer;
  /** Administratively up (IFF_UP); says nothing about carrier. */
  readonly up: boolean;
  /** The link is operational (IFF_RUNNING): up with carrier; false when the cable or the veth peer is gone. */
  readonly carrier: boolean;
  readonly mtu: number;
}

export interface PacketSocketOptions {
  /**
   * Drop outgoing frames in the kernel (PACKET_IGNORE_OUTGOING, Linux >= 4.20) instead of in
   * the addon. Defaults to true; false only exists so tests can exercise the fallback.
   */
  readonly kernelOutgoingFilter?: boolean;
  /** The EtherType received (sends are raw whatever it is). Defaults to ARP (0x0806). */
  readonly ethertype?: number;
  /**
   * A classic BPF program (struct sock_filter bytes, 8 an instruction) the kernel runs on every frame
   * before it is queued: only accepted frames wake the event loop.
   */
  readonly filter?: Buffer;
}

declare const nativeHandle: unique symbol;
interface NativeHandle {
  readonly [nativeHandle]: true;
  readonly kernelFiltersOutgoing: boolean;
}

interface NativeAddon {
  open(
    ifname: string,
    onFrame: (frame: Buffer) => void,
    onError: (err: Error) => void,
    kernelOutgoingFilter: boolean,
    ethertype: number | undefined,
    filter: Buffer | undefined,
  ): NativeHandle;
  send(handle: NativeHandle, frame: Uint8Array): void;
  close(handle: NativeHandle): void;
  ref(handle: NativeHandle): void;
  unref(handle: NativeHandle): void;
  interfaceInfo(ifname: string): InterfaceInfo;
}

/** A failed packet socket operation. `errno` is the system error name, e.g. 'EPERM' or 'ENODEV'. */
export class PacketSocketError extends BarelbError {
  readonly code = 'BARELB_PACKET_SOCKET';

  constructor(
    message: string,
    readonly errno: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Wraps the addon's system errors; anything else (argument errors) is returned as is. */
  static wrap(err: unknown): unknown {
    if (!(err instanceof Error)) return err;
    const errno = (err as { code?: unknown }).code;
    if (typeof errno !== 'string' || !/^E[A-Z0-9]+$/.test(errno)) return err;
    let message = err.message;
    if ((errno === 'EPERM' || errno === 'EACCES') && !message.includes('CAP_NET_RAW')) {
      message += '; CAP_NET_RAW is required';
    }
    return new PacketSocketError(message, errno, { cause: err });
  }
}

let addon: NativeAddon | undefined;

// Source runs from src/net/, compiled code from dist/src/net/: find the package root instead
// of counting directories.
function loadAddon(): NativeAddon {
  if (addon !== undefined) return addon;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PacketSocketError('cannot find the barelb package root to load the packet socket addon', undefined);
    dir = parent;
  }
  const path = join(dir, 'build', 'Release', 'barelb_packet.node');
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new PacketSocketError(
      `cannot load the packet socket addon ${path} (build it with "node-gyp rebuild"): ${(err as Error).message}`,
      undefined,
      { cause: err },
    );
  }
  return addon;
}

function native<T>(call: (native: NativeAddon) => T): T {
  const a = loadAddon();
  try {
    return call(a);
  } catch (err) {
    throw PacketSocketError.wrap(err);
  }
}

export function interfaceInfo(ifname: string): InterfaceInfo {
  return native((a) => a.interfaceInfo(ifname));
}

/**
 * An AF_PACKET socket bound to one interface that receives frames of one EtherType (ARP unless
 * told otherwise) and sends raw Ethernet
 * frames, polled on the main event loop. Outgoing frames (ours and the host's) are not
 * delivered. Like a net.Socket, an open socket stays alive and keeps the process running until
 * close() or unref().
 */
export class PacketSocket {
  readonly #handle: NativeHandle;
  #closed = false;

  private constructor(
    readonly ifname: string,
    handle: NativeHandle,
  ) {
    this.#handle = handle;
  }

  /**
   * Needs CAP_NET_RAW. onError gets asynchronous failures: ENETDOWN when the link goes down
   * (the socket resumes when it comes back up) and ENODEV when the interface is deleted (the
   * socket is dead; close it and open a new one). Deletion may rarely surface as ENETDOWN
   * only, so check interfaceInfo() after an ENETDOWN that outlasts a flap.
   */
  static open(
    ifname: string,
    onFrame: (frame: Buffer) => void,
    onError: (err: PacketSocketError) => void,
    options: PacketSocketOptions = {},
  ): PacketSocket {
    const handle = native((a) =>
      a.open(
        ifname,
        (frame) => onFrame(frame),
        (err) => {
          const wrapped = PacketSocketError.wrap(err);
          onError(wrapped instanceof PacketSocketError ? wrapped : new PacketSocketError(err.message, undefined, { cause: err }));
        },
        options.kernelOutgoingFilter ?? true,
        options.ethertype,
        options.filter,
      ),
    );
    return new PacketSocket(ifname, handle);
  }

  /** False on kernels before 4.20, where the addon drops outgoing frames itself. */
  get kernelFiltersOutgoing(): boolean {
    return this.#handle.kernelFiltersOutgoing;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one frame as is (destination MAC first); frames under 60 bytes are zero-padded. */
  send(frame: Uint8Array): void {
    native((a) => a.send(this.#handle, frame));
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native((a) => a.close(this.#handle));
  }

  /** Lets the process exit while the socket is open, like net.Socket#unref. */
  unref(): this {
    native((a) => a.unref(this.#handle));
    return this;
  }

  ref(): this {
    native((a) => a.ref(this.#handle));
    return this;
  }
}
