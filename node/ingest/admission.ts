/**
 * Per-peer admission limits of the ingest path (SPEC §14.4): how many issuers this node has
 * never stored anything of one peer may introduce per hour. A peer relaying thousands of
 * fresh keys fills at most its allowance; the rest is ignored (no blame: the peer may only
 * be relaying) and can arrive later, from this peer or another, once the window moves on.
 */
export class PeerAdmission {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly newIssuersPerHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one new-issuer slot of `peer`'s hour; false when none is left. */
  allowNewIssuer(peer: string): boolean {
    const now = this.now();
    let w = this.windows.get(peer);
    if (w === undefined || now - w.start >= 3_600_000) {
      if (this.windows.size >= 10_000) this.prune(now);
      w = { start: now, count: 0 };
      this.windows.set(peer, w);
    }
    if (w.count >= this.newIssuersPerHour) return false;
    w.count++;
    return true;
  }

  private prune(now: number): void {
    for (const [peer, w] of this.windows) if (now - w.start >= 3_600_000) this.windows.delete(peer);
    // Still full: forget the least recently started windows, one at a time, rather than grow.
    while (this.windows.size >= 10_000) this.windows.delete(this.windows.keys().next().value as string);
  }
}
