/**
 * Wakes event-stream readers when the store's arrival sequence moves. Readers keep only a
 * cursor and read the store themselves, so a slow reader holds no queue in memory.
 */
export class EventHub {
  private waiters: (() => void)[] = [];
  private closed = false;

  /** Called after a commit that stored something. */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next notify, after `timeoutMs`, or at close; whichever is first. */
  wait(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((f) => f !== done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.waiters.push(done);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    this.notify();
  }
}
