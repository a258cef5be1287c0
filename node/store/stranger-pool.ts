import type { AttestationStore } from './attestation-store.js';

/**
 * The storage budget for strangers (SPEC §14.3): attestations of issuers outside this
 * node's trust share one pool of `budget` bytes. When a new one does not fit, room is made
 * by evicting the oldest attestations of the issuer holding the most, as long as that
 * issuer holds more than the newcomer's issuer would; otherwise the newcomer is refused.
 * So under pressure every stranger keeps up to an equal share (max-min fairness), one key
 * or a thousand fresh keys cannot push out anyone else's share, and trusted issuers'
 * attestations are never counted or evicted.
 */
export class StrangerPool {
  private used = 0;
  /** Lazy max-heap of (bytes, issuer) snapshots; stale entries are skipped when popped. */
  private heap: { bytes: number; issuer: string }[] = [];

  constructor(
    private readonly store: AttestationStore,
    readonly budget: number,
    private readonly trusted: (issuer: string) => boolean,
  ) {
    this.retally();
  }

  /** Bytes the strangers' attestations take now. */
  get usedBytes(): number {
    return this.used;
  }

  /** Bumped by every recount, so a plan made before one knows its snapshot is stale. */
  generation = 0;

  /** Recounts from the store's usage table: after a trust change or a collection. */
  retally(): void {
    this.generation++;
    this.used = 0;
    this.heap = [];
    for (const [issuer, u] of this.store.usageEntries()) {
      if (this.trusted(issuer)) continue;
      this.used += u.bytes;
      this.heap.push({ bytes: u.bytes, issuer });
    }
    this.heap.sort((a, b) => b.bytes - a.bytes); // a sorted array is a valid max-heap
  }

  /** A plan for one group commit: admissions and the evictions they need. */
  plan(): PoolPlan {
    return new PoolPlan(this);
  }

  /** @internal used by PoolPlan */
  state(): { used: number; trusted: (issuer: string) => boolean; store: AttestationStore; budget: number } {
    return { used: this.used, trusted: this.trusted, store: this.store, budget: this.budget };
  }

  /** @internal the largest stranger by committed usage plus `delta`, skipping `exclude`. */
  largest(delta: ReadonlyMap<string, number>, exclude: string): { issuer: string; bytes: number } | undefined {
    // Pop stale entries; the top's current size is the store's usage plus the plan's delta.
    let best: { issuer: string; bytes: number } | undefined;
    const seen = new Set<string>();
    const kept: { bytes: number; issuer: string }[] = [];
    while (this.heap.length > 0) {
      const top = heapPop(this.heap);
      if (seen.has(top.issuer) || this.trusted(top.issuer)) continue;
      const now = this.store.issuerBytes(top.issuer) + (delta.get(top.issuer) ?? 0);
      if (now <= 0) continue;
      if (now !== top.bytes) {
        heapPush(this.heap, { bytes: now, issuer: top.issuer });
        continue;
      }
      seen.add(top.issuer);
      kept.push(top);
      if (top.issuer === exclude) continue;
      best = { issuer: top.issuer, bytes: now };
      break;
    }
    for (const k of kept) heapPush(this.heap, k);
    return best;
  }

  /** @internal the committed change of the touched issuers' usage, measured before and after. */
  applied(before: ReadonlyMap<string, number>, generation: number): void {
    if (generation !== this.generation) {
      this.retally();
      return;
    }
    for (const [issuer, was] of before) {
      if (!this.trusted(issuer)) this.used += this.store.issuerBytes(issuer) - was;
    }
    for (const issuer of before.keys()) {
      const bytes = this.store.issuerBytes(issuer);
      if (bytes > 0 && !this.trusted(issuer)) heapPush(this.heap, { bytes, issuer });
    }
    // Stale snapshots pile up with every change; rebuild before they outnumber issuers.
    if (this.heap.length > 4 * this.store.issuerCount + 1024) this.retally();
  }
}

/** Admissions of one group commit against the pool; nothing changes until `applied`. */
export class PoolPlan {
  /** Ids to delete in the same batch as the admitted attestations. */
  readonly evict: string[] = [];
  private readonly evicting = new Set<string>();
  private readonly delta = new Map<string, number>();
  private usedDelta = 0;
  /** Committed usage of every issuer the plan touches, when first touched. */
  private readonly before = new Map<string, number>();
  /** Per issuer, the arrival seq after which eviction candidates are read next. */
  private readonly cursor = new Map<string, number>();
  private readonly generation: number;

  constructor(private readonly pool: StrangerPool) {
    this.generation = pool.generation;
  }

  private touch(issuer: string): void {
    if (!this.before.has(issuer)) this.before.set(issuer, this.pool.state().store.issuerBytes(issuer));
  }

  /**
   * Whether an attestation of `bytes` by `issuer` may be stored, planning evictions when
   * the pool is full. Trusted issuers always may (the per-issuer quota still holds).
   */
  async admit(issuer: string, bytes: number): Promise<boolean> {
    const { used, trusted, store, budget } = this.pool.state();
    if (trusted(issuer)) return true;
    if (bytes > budget) return false;
    const mine = store.issuerBytes(issuer) + (this.delta.get(issuer) ?? 0) + bytes;
    let need = used + this.usedDelta + bytes - budget;
    const planned: { id: string; bytes: number; issuer: string }[] = [];
    const delta = new Map(this.delta);
    const cursor = new Map(this.cursor);
    while (need > 0) {
      const top = this.pool.largest(delta, issuer);
      if (top === undefined || top.bytes <= mine) break;
      // Oldest first, a page at a time from where this plan left off: sizes come from the index.
      const candidates = await store.oldestOf(top.issuer, 64, cursor.get(top.issuer) ?? 0);
      if (candidates.length === 0) break;
      let left = top.bytes;
      for (const c of candidates) {
        if (need <= 0 || left <= mine) break;
        cursor.set(top.issuer, c.seq);
        if (this.evicting.has(c.id)) continue;
        planned.push({ ...c, issuer: top.issuer });
        delta.set(top.issuer, (delta.get(top.issuer) ?? 0) - c.bytes);
        left -= c.bytes;
        need -= c.bytes;
      }
    }
    if (need > 0) return false;
    for (const [k, v] of cursor) this.cursor.set(k, v);
    this.touch(issuer);
    for (const p of planned) {
      this.touch(p.issuer);
      this.evict.push(p.id);
      this.evicting.add(p.id);
      this.usedDelta -= p.bytes;
    }
    delta.set(issuer, (delta.get(issuer) ?? 0) + bytes);
    this.delta.clear();
    for (const [k, v] of delta) this.delta.set(k, v);
    this.usedDelta += bytes;
    return true;
  }

  /** Call once the batch is written. */
  applied(): void {
    this.pool.applied(this.before, this.generation);
  }
}

function heapPush(h: { bytes: number; issuer: string }[], e: { bytes: number; issuer: string }): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if ((h[p] as { bytes: number }).bytes >= e.bytes) break;
    h[i] = h[p] as { bytes: number; issuer: string };
    i = p;
  }
  h[i] = e;
}

function heapPop(h: { bytes: number; issuer: string }[]): { bytes: number; issuer: string } {
  const top = h[0] as { bytes: number; issuer: string };
  const last = h.pop() as { bytes: number; issuer: string };
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const mb = (j: number): number => (j === i ? last.bytes : (h[j] as { bytes: number }).bytes);
      if (l < h.length && (h[l] as { bytes: number }).bytes > mb(m)) m = l;
      if (r < h.length && (h[r] as { bytes: number }).bytes > mb(m)) m = r;
      if (m === i) break;
      h[i] = h[m] as { bytes: number; issuer: string };
      i = m;
    }
    h[i] = last;
  }
  return top;
}
