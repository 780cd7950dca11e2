/**
 * A keyed work queue: a key waiting is never queued twice, a key being worked
 * on is never worked on twice at once (it is re-queued for after), and failed
 * keys come back after a delay.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly sleepers: (() => void)[] = [];
  private closed = false;

  add(key: string): void {
    if (this.closed) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.sleepers.shift()?.();
  }

  addAfter(key: string, ms: number): void {
    if (this.closed || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, t);
  }

  get length(): number {
    return this.order.length;
  }

  /** Next key to work on, or undefined once closed. Call done(key) after. */
  async take(): Promise<string | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const key = this.order.shift();
      if (key !== undefined) {
        this.waiting.delete(key);
        this.active.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.sleepers.push(resolve));
    }
  }

  done(key: string): void {
    this.active.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.sleepers.splice(0).forEach((wake) => wake());
  }
}
