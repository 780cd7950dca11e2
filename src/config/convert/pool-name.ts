import { createHash } from 'node:crypto';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A barelb pool name (a DNS label) for a foreign pool's name or key:
 * lowercased, other characters turned into "-", and cut to 63 characters
 * with a hash of the whole so two long names stay apart. Undefined when
 * nothing usable is left.
 */
export function toPoolName(raw: string): string | undefined {
  if (DNS_LABEL.test(raw)) return raw;
  let name = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '');
  if (name.length > 63) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
    name = `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
  }
  return DNS_LABEL.test(name) ? name : undefined;
}
