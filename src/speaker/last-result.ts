const NONE: unique symbol = Symbol('none');

/**
 * The last result of a computation, recomputed only when its key changes
 * (compared with ===). For per-IP work a speaker would otherwise redo on every
 * decision: thousands of IPs, each decided several times a second.
 */
export class LastResult<K, V> {
  private key: K | typeof NONE = NONE;
  private value: V | undefined;

  get(key: K, compute: () => V): V {
    if (this.key !== key) {
      this.value = compute();
      this.key = key;
    }
    return this.value as V;
  }
}
