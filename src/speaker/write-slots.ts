/**
 * At most `max` Lease writes in flight. Waiting writes go out by priority
 * (0 first), in arrival order within one. Without a bound, a speaker holding
 * thousands of IPs sends thousands of renewals at once when the API server
 * slows down, which slows it down further (measured: the lab's API server
 * answered 1 write/s and every client of it, the controller included, lost
 * its Leases).
 */
export class WriteSlots {
  private inFlight = 0;
  private readonly queues: (() => void)[][];
  private readonly heads: number[];

  constructor(
    readonly max: number,
    priorities: number,
  ) {
    this.queues = Array.from({ length: priorities }, () => []);
    this.heads = this.queues.map(() => 0);
  }

  /** Writes waiting for a slot. */
  get waiting(): number {
    return this.queues.reduce((n, q, i) => n + q.length - (this.heads[i] as number), 0);
  }

  /** Resolves with the function that gives the slot back (calling it twice gives back one slot). */
  acquire(priority: number): Promise<() => void> {
    if (this.inFlight < this.max) {
      this.inFlight++;
      return Promise.resolve(this.giveBack());
    }
    return new Promise((resolve) => (this.queues[priority] as (() => void)[]).push(() => resolve(this.giveBack())));
  }

  private giveBack(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight--;
      this.next();
    };
  }

  private next(): void {
    for (const [i, q] of this.queues.entries()) {
      const head = this.heads[i] as number;
      if (head >= q.length) continue;
      const grant = q[head] as () => void;
      // Compact once the consumed prefix dominates, so a long queue is not shifted per grant.
      if (head + 1 >= 1024 && head + 1 >= q.length / 2) {
        q.splice(0, head + 1);
        this.heads[i] = 0;
      } else {
        this.heads[i] = head + 1;
      }
      this.inFlight++;
      grant();
      return;
    }
  }
}
