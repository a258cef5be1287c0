/**
 * Wakes event-stream readers when the store's arrival sequence moves. Readers keep only a
 * cursor and read the store themselves, so a slow reader holds no queue in memory.
 */
export class EventHub {
  private waiters: ((why: 'event' | 'timeout') => void)[] = [];
  private closed = false;

  /** Called after a commit that stored something. */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f('event');
  }

  /**
   * Resolves at the next notify ('event'), after `timeoutMs` ('timeout'), at close or when
   * `signal` aborts ('event'); whichever is first.
   */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<'event' | 'timeout'> {
    if (this.closed || signal?.aborted) return Promise.resolve('event');
    return new Promise((resolve) => {
      const done = (why: 'event' | 'timeout'): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((f) => f !== done);
        resolve(why);
      };
      const onAbort = (): void => done('event');
      const t = setTimeout(() => done('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
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
