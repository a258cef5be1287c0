import type { AttestationStore } from './attestation-store.js';

/** The group of issuers stored before groups were recorded (SPEC §14.3). */
export const LEGACY_GROUP = 'legacy';

/** The group of what this node's own API and CLI accepted. */
export const LOCAL_GROUP = 'local';

/**
 * The storage budget for strangers (SPEC §14.3): attestations of issuers outside this
 * node's trust share one pool of `budget` bytes, shared max-min fairly on two levels.
 * Each issuer belongs to the group of the origin that first brought it (a /24 or /48
 * network, a private address, a peer of no known address, or this node itself). When a
 * newcomer does not fit, room is made by evicting the oldest attestations of the largest
 * issuer of the group holding the most, as long as that group holds more than the
 * newcomer's group would; else of the largest other issuer of the newcomer's own group, as
 * long as it holds more than the newcomer's issuer would; otherwise the newcomer is
 * refused. So under pressure every group keeps up to an equal share and every issuer up to
 * an equal share of its group: a flood of fresh keys from one network holds at most the
 * pool ÷ groups whatever the key count, and trusted issuers' attestations are never
 * counted or evicted.
 */
export class StrangerPool {
  private used = 0;
  /** Committed bytes of strangers per group. */
  private readonly groups = new Map<string, number>();
  /** Groups by size, and each group's issuers by size: lazy max-heaps of upper bounds. */
  private groupHeap = new LazyHeap();
  private issuerHeaps = new Map<string, LazyHeap>();
  /** Heap entries in all, to rebuild before stale ones outnumber issuers. */
  private entries = 0;
  private evicted = 0;

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

  /** How many groups hold strangers' attestations now. */
  get groupCount(): number {
    return this.groups.size;
  }

  /** Attestations evicted to make room since this pool was opened. */
  get evictions(): number {
    return this.evicted;
  }

  /** Bytes a group's strangers hold now. */
  groupBytes(group: string): number {
    return this.groups.get(group) ?? 0;
  }

  /** The group an issuer stored here belongs to; undefined when nothing of it is stored. */
  groupOf(issuer: string): string | undefined {
    if (this.store.issuerBytes(issuer) <= 0) return undefined;
    return this.store.issuerGroup(issuer) ?? LEGACY_GROUP;
  }

  /** Bumped by every recount, so a plan made before one knows its snapshot is stale. */
  generation = 0;

  /** Recounts from the store's usage table: after a trust change or a collection. */
  retally(): void {
    this.generation++;
    this.used = 0;
    this.groups.clear();
    const members = new Map<string, Entry[]>();
    for (const [issuer, u] of this.store.usageEntries()) {
      if (u.bytes <= 0 || this.trusted(issuer)) continue;
      const g = u.group ?? LEGACY_GROUP;
      this.used += u.bytes;
      this.groups.set(g, (this.groups.get(g) ?? 0) + u.bytes);
      let m = members.get(g);
      if (m === undefined) members.set(g, (m = []));
      m.push({ bytes: u.bytes, key: issuer });
    }
    this.issuerHeaps = new Map([...members].map(([g, m]) => [g, LazyHeap.of(m)]));
    this.groupHeap = LazyHeap.of([...this.groups].map(([key, bytes]) => ({ key, bytes })));
    this.entries = this.store.issuerCount + this.groups.size;
  }

  /** A plan for one group commit: admissions and the evictions they need. */
  plan(): PoolPlan {
    return new PoolPlan(this);
  }

  /** @internal used by PoolPlan */
  state(): { used: number; trusted: (issuer: string) => boolean; store: AttestationStore; budget: number } {
    return { used: this.used, trusted: this.trusted, store: this.store, budget: this.budget };
  }

  /** @internal the largest group by `size` (a plan's view), skipping `skip`. */
  largestGroup(size: (group: string) => number, skip: string): Entry | undefined {
    return this.groupHeap.largest(size, (g) => this.groups.get(g) ?? 0, (g) => g === skip);
  }

  /** @internal the largest stranger of `group` by `size` (a plan's view), skipping `skip`. */
  largestIn(group: string, size: (issuer: string) => number, skip: string): Entry | undefined {
    const committed = (i: string): number => (this.trusted(i) ? 0 : this.store.issuerBytes(i));
    return this.issuerHeaps.get(group)?.largest((i) => (this.trusted(i) ? 0 : size(i)), committed, (i) => i === skip);
  }

  /** @internal a plan grew `issuer` of `group` to `bytes` and the group to `groupBytes`: heaps must bound them. */
  grew(issuer: string, group: string, bytes: number, groupBytes: number): void {
    this.heapOf(group).push({ bytes, key: issuer });
    this.groupHeap.push({ bytes: groupBytes, key: group });
    this.entries += 2;
  }

  private heapOf(group: string): LazyHeap {
    let h = this.issuerHeaps.get(group);
    if (h === undefined) this.issuerHeaps.set(group, (h = new LazyHeap()));
    return h;
  }

  /** @internal the committed change of the touched issuers' usage, measured before and after. */
  applied(before: ReadonlyMap<string, { bytes: number; group: string }>, evicted: number, generation: number): void {
    this.evicted += evicted;
    if (generation !== this.generation) {
      this.retally();
      return;
    }
    const touchedGroups = new Set<string>();
    for (const [issuer, was] of before) {
      if (this.trusted(issuer)) continue;
      const now = this.store.issuerBytes(issuer);
      const g = was.group;
      this.used += now - was.bytes;
      const left = (this.groups.get(g) ?? 0) + now - was.bytes;
      if (left > 0) this.groups.set(g, left);
      else this.groups.delete(g);
      touchedGroups.add(g);
      if (now > 0) {
        this.heapOf(g).push({ bytes: now, key: issuer });
        this.entries++;
      }
    }
    for (const g of touchedGroups) {
      const bytes = this.groups.get(g) ?? 0;
      if (bytes > 0) {
        this.groupHeap.push({ bytes, key: g });
        this.entries++;
      } else {
        this.issuerHeaps.delete(g);
      }
    }
    // Stale snapshots pile up with every change; rebuild before they outnumber issuers.
    if (this.entries > 4 * (this.store.issuerCount + this.groups.size) + 1024) this.retally();
  }
}

/** Admissions of one group commit against the pool; nothing changes until `applied`. */
export class PoolPlan {
  /** Ids to delete in the same batch as the admitted attestations. */
  readonly evict: string[] = [];
  private readonly evicting = new Set<string>();
  /** Planned change of issuers' and groups' bytes. */
  private readonly delta = new Map<string, number>();
  private readonly groupDelta = new Map<string, number>();
  private usedDelta = 0;
  /** The group of issuers this plan admits that the store does not hold yet. */
  private readonly newGroups = new Map<string, string>();
  /** Committed usage (and group) of every issuer the plan touches, when first touched. */
  private readonly before = new Map<string, { bytes: number; group: string }>();
  /** Per issuer, its oldest attestations read so far, and how many of them the plan evicts. */
  private readonly pages = new Map<string, { items: { id: string; bytes: number; seq: number }[]; end: boolean }>();
  private readonly taken = new Map<string, number>();
  private readonly generation: number;

  constructor(private readonly pool: StrangerPool) {
    this.generation = pool.generation;
  }

  /** The group `issuer` counts in: the one it is stored under, else the one this plan gave it, else `group`. */
  groupFor(issuer: string, group: string): string {
    return this.pool.groupOf(issuer) ?? this.newGroups.get(issuer) ?? group;
  }

  /**
   * Whether an attestation of `bytes` by `issuer`, brought by an origin of `group`, may be
   * stored, planning evictions when the pool is full. Trusted issuers always may (the
   * per-issuer quota still holds). An issuer already stored counts in its stored group.
   */
  async admit(issuer: string, group: string, bytes: number): Promise<boolean> {
    const { used, trusted, store, budget } = this.pool.state();
    if (trusted(issuer)) return true;
    if (bytes > budget) return false;
    const g = this.groupFor(issuer, group);
    const mine = store.issuerBytes(issuer) + (this.delta.get(issuer) ?? 0) + bytes;
    const mineGroup = this.pool.groupBytes(g) + (this.groupDelta.get(g) ?? 0) + bytes;
    let need = used + this.usedDelta + bytes - budget;
    const planned: { id: string; bytes: number; issuer: string; group: string }[] = [];
    // Only a newcomer that needs room works on copies (kept if it is admitted).
    let { delta, groupDelta, taken } = this;
    if (need > 0) {
      delta = new Map(delta);
      groupDelta = new Map(groupDelta);
      taken = new Map(taken);
      const issuerSize = (i: string): number => store.issuerBytes(i) + (delta.get(i) ?? 0);
      const groupSize = (k: string): number => this.pool.groupBytes(k) + (groupDelta.get(k) ?? 0);
      while (need > 0) {
        // The largest other group gives way while it holds more than the newcomer's group
        // would; else the largest other issuer of its own group, while it holds more than
        // the newcomer would.
        let from: { issuer: string; group: string } | undefined;
        const top = this.pool.largestGroup(groupSize, g);
        if (top !== undefined && top.bytes > mineGroup) {
          const victim = this.pool.largestIn(top.key, issuerSize, '');
          if (victim !== undefined) from = { issuer: victim.key, group: top.key };
        } else {
          const victim = this.pool.largestIn(g, issuerSize, issuer);
          if (victim !== undefined && victim.bytes > mine) from = { issuer: victim.key, group: g };
        }
        if (from === undefined) break;
        const at = taken.get(from.issuer) ?? 0;
        const c = await this.oldest(from.issuer, at);
        if (c === undefined) break;
        taken.set(from.issuer, at + 1);
        if (this.evicting.has(c.id)) continue;
        planned.push({ ...c, issuer: from.issuer, group: from.group });
        delta.set(from.issuer, (delta.get(from.issuer) ?? 0) - c.bytes);
        groupDelta.set(from.group, (groupDelta.get(from.group) ?? 0) - c.bytes);
        need -= c.bytes;
      }
      if (need > 0) return false;
    }
    this.touch(issuer, g);
    for (const p of planned) {
      this.touch(p.issuer, p.group);
      this.evict.push(p.id);
      this.evicting.add(p.id);
      this.usedDelta -= p.bytes;
    }
    delta.set(issuer, (delta.get(issuer) ?? 0) + bytes);
    groupDelta.set(g, (groupDelta.get(g) ?? 0) + bytes);
    if (store.issuerBytes(issuer) <= 0) this.newGroups.set(issuer, g);
    if (delta !== this.delta) {
      for (const [k, v] of delta) this.delta.set(k, v);
      for (const [k, v] of groupDelta) this.groupDelta.set(k, v);
      for (const [k, v] of taken) this.taken.set(k, v);
    }
    this.usedDelta += bytes;
    // The heaps hold upper bounds: what this plan grows must be bounded too.
    this.pool.grew(issuer, g, mine, mineGroup);
    return true;
  }

  /** The `at`-th oldest stored attestation of `issuer` (by arrival), read a page at a time. */
  private async oldest(issuer: string, at: number): Promise<{ id: string; bytes: number; seq: number } | undefined> {
    let p = this.pages.get(issuer);
    if (p === undefined) this.pages.set(issuer, (p = { items: [], end: false }));
    while (at >= p.items.length && !p.end) {
      const more = await this.pool.state().store.oldestOf(issuer, 64, p.items.at(-1)?.seq ?? 0);
      if (more.length < 64) p.end = true;
      p.items.push(...more);
    }
    return p.items[at];
  }

  private touch(issuer: string, group: string): void {
    if (!this.before.has(issuer)) this.before.set(issuer, { bytes: this.pool.state().store.issuerBytes(issuer), group });
  }

  /** Call once the batch is written. */
  applied(): void {
    this.pool.applied(this.before, this.evict.length, this.generation);
  }
}

interface Entry {
  bytes: number;
  key: string;
}

/**
 * A max-heap of (bytes, key) snapshots, each an upper bound of the key's current size:
 * a key that grows gets a new entry, one that shrinks keeps its old one until it reaches
 * the top, where it is corrected.
 */
class LazyHeap {
  private h: Entry[] = [];

  static of(entries: Entry[]): LazyHeap {
    const heap = new LazyHeap();
    heap.h = entries.sort((a, b) => b.bytes - a.bytes); // a sorted array is a valid max-heap
    return heap;
  }

  push(e: Entry): void {
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((h[p] as Entry).bytes >= e.bytes) break;
      h[i] = h[p] as Entry;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.h;
    const top = h[0] as Entry;
    const last = h.pop() as Entry;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const mb = (j: number): number => (j === i ? last.bytes : (h[j] as Entry).bytes);
        if (l < h.length && (h[l] as Entry).bytes > mb(m)) m = l;
        if (r < h.length && (h[r] as Entry).bytes > mb(m)) m = r;
        if (m === i) break;
        h[i] = h[m] as Entry;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  /**
   * The key of the largest `size` (a plan's view, ≤ the bound each entry holds), skipping
   * `skip` and sizes of 0. Entries popped on the way are put back once each, bounding both
   * the plan's and the committed size (`committed`), so a plan that is dropped leaves the
   * heap valid.
   */
  largest(size: (key: string) => number, committed: (key: string) => number, skip: (key: string) => boolean): Entry | undefined {
    let best: Entry | undefined;
    const seen = new Set<string>();
    const kept: Entry[] = [];
    while (this.h.length > 0 && (best === undefined || (this.h[0] as Entry).bytes > best.bytes)) {
      const top = this.pop();
      if (seen.has(top.key)) continue;
      seen.add(top.key);
      const now = size(top.key);
      const bound = Math.max(now, committed(top.key));
      if (bound > 0) kept.push({ bytes: bound, key: top.key });
      if (now <= 0 || skip(top.key)) continue;
      if (best === undefined || now > best.bytes) best = { bytes: now, key: top.key };
    }
    for (const k of kept) this.push(k);
    return best;
  }
}
