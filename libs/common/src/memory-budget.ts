interface Waiter {
  bytes: number;
  grant: () => void;
}

/**
 * Bytes of memory that may be in use at once, shared by whoever must hold a whole DICOM file in
 * memory (the API's request bodies, a worker's instances). A holder reserves its bytes before it
 * allocates them; when the budget is spent, it waits, first come first served. A holder larger
 * than the whole budget waits until it is alone, and then takes the whole budget.
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Bytes reserved now. */
  get reserved(): number {
    return this.used;
  }

  /** Holders waiting for their bytes. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Resolves to the bytes reserved (to give back with release()) once they fit, or to 0 when
   * `signal` aborts first (its holder went away while it waited): nothing is reserved then.
   */
  reserve(bytes: number, signal?: AbortSignal): Promise<number> {
    const wanted = Math.min(bytes, this.capacity);
    if (signal?.aborted) return Promise.resolve(0);
    if (this.waiting.length === 0 && this.used + wanted <= this.capacity) {
      this.used += wanted;
      return Promise.resolve(wanted);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { bytes: wanted, grant: () => resolve(wanted) };
      this.waiting.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(waiter);
          if (at < 0) return; // granted already: its owner releases it
          this.waiting.splice(at, 1);
          resolve(0);
          this.grantWaiting(); // the next one may fit where this one did not
        },
        { once: true },
      );
    });
  }

  /**
   * Reserves `bytes` now if they fit and nobody waits before them; false otherwise (nothing
   * reserved). For holders that cannot wait: data arriving at the pace of a connection.
   */
  tryReserve(bytes: number): boolean {
    if (this.waiting.length > 0 || this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}
