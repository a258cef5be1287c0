/**
 * Work budgets for serving sync (SPEC §14.1): token buckets of work units that may go into
 * debt. A request waits (up to a limit) until both its peer's bucket and the node-wide one
 * are positive, is served, and is then charged what it actually cost (ranges, parts, ids,
 * reply bytes). An honest catch-up is paced rather than refused; a peer that asks for more
 * than its share waits longer; many peer ids together cannot exceed the node-wide rate.
 */
export class SyncBudget {
  private readonly peers = new Map<string, { units: number; at: number }>();
  private readonly all: { units: number; at: number };

  constructor(
    private readonly perPeerPerMinute: number,
    private readonly totalPerMinute: number,
    private readonly maxPeers = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.all = { units: totalPerMinute, at: now() };
  }

  private refill(b: { units: number; at: number }, perMinute: number, now: number): void {
    b.units = Math.min(perMinute, b.units + ((now - b.at) * perMinute) / 60_000);
    b.at = now;
  }

  private bucket(peer: string, now: number): { units: number; at: number } {
    let b = this.peers.get(peer);
    if (b === undefined) {
      // Least recently used first out: a flood of fresh peer ids cannot reset anyone else.
      if (this.peers.size >= this.maxPeers) this.peers.delete(this.peers.keys().next().value as string);
      b = { units: this.perPeerPerMinute / 4, at: now }; // a new peer starts with a quarter
    } else this.peers.delete(peer);
    this.peers.set(peer, b);
    return b;
  }

  /** Milliseconds until `peer` may be served (0: now). */
  waitMs(peer: string): number {
    const now = this.now();
    const b = this.bucket(peer, now);
    this.refill(b, this.perPeerPerMinute, now);
    this.refill(this.all, this.totalPerMinute, now);
    const need = (units: number, perMinute: number): number => (units > 0 ? 0 : Math.ceil(((1 - units) * 60_000) / perMinute));
    return Math.max(need(b.units, this.perPeerPerMinute), need(this.all.units, this.totalPerMinute));
  }

  /** Units the node-wide budget has given out over about the last minute (0 … totalPerMinute, more when in debt). */
  used(): number {
    this.refill(this.all, this.totalPerMinute, this.now());
    return this.totalPerMinute - this.all.units;
  }

  get perMinute(): number {
    return this.totalPerMinute;
  }

  /** Charges what a served request cost. */
  charge(peer: string, units: number): void {
    const now = this.now();
    const b = this.bucket(peer, now);
    this.refill(b, this.perPeerPerMinute, now);
    this.refill(this.all, this.totalPerMinute, now);
    b.units -= units;
    this.all.units -= units;
  }
}
