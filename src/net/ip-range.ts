import { BarelbError } from '../errors.js';
import { IpAddress, maxValue, type IpFamily } from './ip.js';

export class InvalidRangeError extends BarelbError {
  readonly code = 'BARELB_INVALID_RANGE';
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {
    super(`"${text}" is not an address range: ${reason}`);
  }
}

/** An inclusive range of addresses of one family. */
export class IpRange {
  /** Use IpRange.parse or IpRange.of. */
  constructor(
    readonly family: IpFamily,
    readonly first: bigint,
    readonly last: bigint,
    /** As the user wrote it, when parsed from text. */
    readonly text?: string,
  ) {}

  static of(first: IpAddress, last: IpAddress): IpRange {
    if (first.family !== last.family) throw new RangeError('range ends differ in family');
    if (first.value > last.value) throw new RangeError('range is reversed');
    return new IpRange(first.family, first.value, last.value);
  }

  /** Parses "CIDR" (`198.51.100.64/28`) or "first-last" (`198.51.100.200-198.51.100.250`). */
  static parse(text: string): IpRange {
    const t = text.trim();
    if (t.includes('/')) return parseCidr(t, text);
    if (t.includes('-')) {
      const [a, b, ...rest] = t.split('-');
      if (rest.length > 0) throw new InvalidRangeError(text, 'expected "first-last"');
      const first = parseEnd(a ?? '', text);
      const last = parseEnd(b ?? '', text);
      if (first.family !== last.family) throw new InvalidRangeError(text, 'the two ends are of different IP families');
      if (first.value > last.value) {
        throw new InvalidRangeError(text, `reversed: ${first.toString()} comes after ${last.toString()}`);
      }
      return new IpRange(first.family, first.value, last.value, t);
    }
    const single = parseEnd(t, text);
    return new IpRange(single.family, single.value, single.value, t);
  }

  get size(): bigint {
    return this.last - this.first + 1n;
  }

  contains(ip: IpAddress): boolean {
    return ip.family === this.family && ip.value >= this.first && ip.value <= this.last;
  }

  overlaps(other: IpRange): boolean {
    return this.family === other.family && this.first <= other.last && other.first <= this.last;
  }

  toString(): string {
    const a = IpAddress.fromValue(this.family, this.first).toString();
    if (this.first === this.last) return a;
    return `${a}-${IpAddress.fromValue(this.family, this.last).toString()}`;
  }
}

function parseEnd(text: string, whole: string): IpAddress {
  const ip = IpAddress.tryParse(text);
  if (!ip) throw new InvalidRangeError(whole, `"${text.trim()}" is not an IP address`);
  return ip;
}

function parseCidr(t: string, whole: string): IpRange {
  const [addr, len, ...rest] = t.split('/');
  if (rest.length > 0 || len === undefined || !/^\d{1,3}$/.test(len)) {
    throw new InvalidRangeError(whole, 'expected "address/prefix-length"');
  }
  const ip = parseEnd(addr ?? '', whole);
  const bits = IpAddress.bits(ip.family);
  const prefix = Number(len);
  if (prefix > bits) throw new InvalidRangeError(whole, `prefix length ${prefix} exceeds ${bits}`);
  const hostMask = maxValue(ip.family) >> BigInt(prefix);
  if ((ip.value & hostMask) !== 0n) {
    const network = IpAddress.fromValue(ip.family, ip.value & ~hostMask);
    throw new InvalidRangeError(whole, `host bits are set; did you mean ${network.toString()}/${prefix}?`);
  }
  return new IpRange(ip.family, ip.value, ip.value | hostMask, t);
}
