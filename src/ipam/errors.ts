import { BarelbError } from '../errors.js';

/** Why a Service could not get (or keep) an address. Each becomes a Warning Event. */
export abstract class AllocationError extends BarelbError {}

export class UnknownPoolError extends AllocationError {
  readonly code = 'BARELB_UNKNOWN_POOL';
  constructor(readonly pool: string, known: readonly string[]) {
    super(`pool "${pool}" does not exist (configured pools: ${known.length ? known.join(', ') : 'none'})`);
  }
}

export class PoolNotAllowedError extends AllocationError {
  readonly code = 'BARELB_POOL_NOT_ALLOWED';
  constructor(readonly pool: string, readonly reason: string) {
    super(`pool "${pool}" is not allowed for this Service: ${reason}`);
  }
}

export class IpNotInPoolError extends AllocationError {
  readonly code = 'BARELB_IP_NOT_IN_POOL';
  constructor(readonly ip: string, readonly where: string) {
    super(`requested address ${ip} is not in ${where}`);
  }
}

export class IpInUseError extends AllocationError {
  readonly code = 'BARELB_IP_IN_USE';
  constructor(readonly ip: string, readonly holders: readonly string[], readonly why: string) {
    super(`requested address ${ip} is already used by ${holders.join(', ')}${why ? `: ${why}` : ''}`);
  }
}

export class IpAvoidedError extends AllocationError {
  readonly code = 'BARELB_IP_AVOIDED';
  constructor(readonly ip: string, readonly pool: string) {
    super(`requested address ${ip} ends in .0 or .255, which pool "${pool}" avoids (avoidBuggyIPs: true)`);
  }
}

export class NoAddressError extends AllocationError {
  readonly code = 'BARELB_NO_ADDRESS';
  constructor(readonly reasons: readonly string[]) {
    super(`no pool can give this Service an address: ${reasons.join('; ')}`);
  }
}

export class InvalidRequestError extends AllocationError {
  readonly code = 'BARELB_INVALID_REQUEST';
  constructor(readonly field: string, readonly value: string, readonly reason: string) {
    super(`${field} ${JSON.stringify(value)}: ${reason}`);
  }
}
