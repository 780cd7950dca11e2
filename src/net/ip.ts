import ipaddr from 'ipaddr.js';
import { BarelbError } from '../errors.js';

export type IpFamily = 'IPv4' | 'IPv6';

/** An IP address as a number, so ranges are plain arithmetic. Immutable. */
export class IpAddress {
  private constructor(
    readonly family: IpFamily,
    readonly value: bigint,
  ) {}

  static parse(text: string): IpAddress {
    const trimmed = text.trim();
    // ipaddr.js accepts "1.2" and other legacy IPv4 forms; only dotted quads are addresses here.
    if (!ipaddr.IPv4.isValidFourPartDecimal(trimmed) && !ipaddr.IPv6.isValid(trimmed)) {
      throw new InvalidIpError(text);
    }
    const parsed = ipaddr.parse(trimmed);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).zoneId !== undefined) throw new InvalidIpError(text);
    let value = 0n;
    for (const byte of parsed.toByteArray()) value = (value << 8n) | BigInt(byte);
    return new IpAddress(parsed.kind() === 'ipv4' ? 'IPv4' : 'IPv6', value);
  }

  static tryParse(text: string): IpAddress | undefined {
    try {
      return IpAddress.parse(text);
    } catch {
      return undefined;
    }
  }

  static fromValue(family: IpFamily, value: bigint): IpAddress {
    if (value < 0n || value > maxValue(family)) throw new RangeError(`${value} is not an ${family} address`);
    return new IpAddress(family, value);
  }

  static bits(family: IpFamily): number {
    return family === 'IPv4' ? 32 : 128;
  }

  /** Canonical text: dotted quad, or RFC 5952 compressed IPv6. Use it as a map key. */
  toString(): string {
    const bytes: number[] = [];
    let v = this.value;
    for (let i = 0; i < IpAddress.bits(this.family) / 8; i++) {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    return ipaddr.fromByteArray(bytes).toString();
  }

  equals(other: IpAddress): boolean {
    return this.family === other.family && this.value === other.value;
  }
}

export function maxValue(family: IpFamily): bigint {
  return (1n << BigInt(IpAddress.bits(family))) - 1n;
}

/** The family of an address given as text (IPv6 when it has a colon; check validity elsewhere). */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 'IPv6' : 'IPv4';
}

/** Canonical form of an address given as text, or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  return IpAddress.tryParse(text)?.toString();
}

export class InvalidIpError extends BarelbError {
  readonly code = 'BARELB_INVALID_IP';
  constructor(readonly text: string) {
    super(`"${text}" is not an IPv4 or IPv6 address`);
  }
}
