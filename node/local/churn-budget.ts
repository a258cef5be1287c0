/** Budget windows are clock minutes, the same for every issuer: what was deferred lands together. */
export const CHURN_WINDOW_MS = 60_000;

/** An issuer whose endorsement changes are stored but not yet in the trust graph. */
export interface DeferredChanges {
  readonly issuer: string;
  /** Endorsements, retractions of endorsements and expiries not yet applied. */
  readonly changes: number;
  /** epoch ms: when they apply at the latest (the next window, or the node's next free recomputation). */
  readonly until: number;
}

/**
 * What may force a trust-graph recomputation (SPEC §14.8). Per issuer, `perIssuer`
 * recomputations in each clock minute: one is charged each time an issuer's waiting
 * changes are applied, however many there are (coalesced). Per node, `perSecond`
 * recomputations forced by endorsement changes, a token bucket holding one second's worth.
 * Decides only; the caller keeps what waits.
 */
export class ChurnBudget {
  private window = -1;
  private readonly used = new Map<string, number>();
  private tokens: number;
  private refilledAt: number | undefined;

  constructor(
    private readonly perIssuer: number,
    private readonly perSecond: number,
  ) {
    this.tokens = perSecond;
  }

  /** When the window holding `now` ends. */
  windowEnd(now: number): number {
    return (Math.floor(now / CHURN_WINDOW_MS) + 1) * CHURN_WINDOW_MS;
  }

  /** Whether `issuer`'s changes may force a recomputation now. */
  allows(issuer: string, now: number): boolean {
    this.roll(now);
    return (this.used.get(issuer) ?? 0) < this.perIssuer;
  }

  /** A recomputation applied these issuers' changes. */
  charge(issuers: Iterable<string>, now: number): void {
    this.roll(now);
    for (const i of issuers) this.used.set(i, (this.used.get(i) ?? 0) + 1);
  }

  /** Takes one of the node's recomputations if one is free now. */
  takeSlot(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** When the node's next recomputation is free (now, if one is). */
  nextSlot(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? now : now + Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  private refill(now: number): void {
    if (this.refilledAt !== undefined && now > this.refilledAt) this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    if (this.refilledAt === undefined || now > this.refilledAt) this.refilledAt = now;
  }

  private roll(now: number): void {
    const w = Math.floor(now / CHURN_WINDOW_MS);
    if (w === this.window) return;
    this.window = w;
    this.used.clear();
  }
}
