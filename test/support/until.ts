export interface UntilOptions {
  /** How often `f` is called; 50 ms unless told. */
  readonly intervalMs?: number;
  /** More to say when it times out (a child's log, say). */
  readonly detail?: () => string;
  /** Treat a throw from `f` as "not yet" rather than failing at once. */
  readonly retryErrors?: boolean;
}

/**
 * Waits on a condition, not a clock: polls `f` until it returns something other than
 * undefined or false and returns that; throws naming `what` after `ms` (20 s by default:
 * a bound for a hung test, not a timing assertion).
 */
export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, opts: UntilOptions = {}): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = opts.retryErrors ? await Promise.resolve().then(f).catch(() => undefined) : await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) {
      const more = opts.detail?.();
      throw new Error(`timed out waiting for ${what}${more ? `\n${more}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
