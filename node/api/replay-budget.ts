import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket of bytes that may go into debt: a page is charged after it is written
 * (its size is known only then), and the next page waits until the debt is paid.
 */
export class ByteBucket {
  private tokens: number;
  private at: number;

  /** `bytesPerSecond` refill; holds at most one second's worth. */
  constructor(readonly bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = bytesPerSecond;
    this.at = now();
  }

  charge(bytes: number): void {
    this.refill();
    this.tokens -= bytes;
  }

  /** Milliseconds until the bucket is out of debt; 0 when it is not in debt. */
  debtMs(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSecond);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((t - this.at) * this.bytesPerSecond) / 1000);
    this.at = t;
  }
}

/** Why a stream waited for replay budget. */
export type ReplayWait = 'stream' | 'total';

/**
 * The replay budget shared by every event stream: one replay page at a time across all
 * streams, taken in arrival order, and only while the shared bucket is out of debt. One page
 * at a time bounds what replay holds of the event loop in one turn to one page, however
 * many streams replay; the bucket bounds the bytes per second.
 */
export class ReplayBudget {
  readonly total: ByteBucket;
  private readonly queue: { take: () => boolean }[] = [];
  private busy = false;

  constructor(
    totalBytesPerSecond: number,
    private readonly perStreamBytesPerSecond: number,
    private readonly onWait: (why: ReplayWait) => void = () => undefined,
  ) {
    this.total = new ByteBucket(totalBytesPerSecond);
  }

  /** A bucket for one stream. */
  stream(): ByteBucket {
    return new ByteBucket(this.perStreamBytesPerSecond);
  }

  /**
   * Waits (on timers) until `own` and the shared bucket are out of debt and no other
   * stream reads a replay page, then runs `page` and charges what it returns to both.
   * Resolves undefined without running `page` when `signal` aborts first.
   */
  async run<T>(own: ByteBucket, signal: AbortSignal, page: () => Promise<{ bytes: number; value: T }>): Promise<T | undefined> {
    const ownDebt = own.debtMs();
    if (ownDebt > 0) {
      this.onWait('stream');
      if (!(await pause(ownDebt, signal))) return undefined;
    }
    if (!(await this.turn(signal))) return undefined;
    try {
      const { bytes, value } = await page();
      own.charge(bytes);
      this.total.charge(bytes);
      return value;
    } finally {
      this.release();
    }
  }

  private async turn(signal: AbortSignal): Promise<boolean> {
    if (this.busy || this.queue.length > 0) {
      const got = await new Promise<boolean>((resolve) => {
        const entry = {
          take: (): boolean => {
            if (signal.aborted) return false;
            signal.removeEventListener('abort', onAbort);
            resolve(true);
            return true;
          },
        };
        const onAbort = (): void => {
          const i = this.queue.indexOf(entry);
          if (i >= 0) this.queue.splice(i, 1);
          resolve(false);
        };
        if (signal.aborted) return resolve(false);
        signal.addEventListener('abort', onAbort, { once: true });
        this.queue.push(entry);
      });
      // Granted: `busy` was left set for us by release().
      if (!got) return false;
    } else {
      this.busy = true;
    }
    const debt = this.total.debtMs();
    if (debt > 0) {
      this.onWait('total');
      if (!(await pause(debt, signal))) {
        this.release();
        return false;
      }
    }
    return true;
  }

  private release(): void {
    const next = this.queue.shift();
    if (next === undefined) this.busy = false;
    // The next stream starts in a later turn of the event loop: between two replay pages,
    // whatever else waits (a /healthz, a live event) runs first.
    else setImmediate(() => {
      if (!next.take()) this.release();
    });
  }
}

/** Sleeps `ms` on a timer; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
