import type { TrustGraph } from '../../src/reputation/trust-graph.js';
import type { ReputationView } from '../../src/reputation/view-schema.js';

/** What one cached view is kept with. */
interface Entry<V> {
  readonly view: V;
  /** When something in it changes by the clock alone: the next expiry among its evidence (or a cap). */
  readonly validUntil: number;
  /** The digests it read: itself and the bases its lineage walk viewed. A commit about any of them drops it. */
  readonly deps: readonly string[];
  readonly bytes: number;
}

/** Nothing is kept longer than this, whatever its evidence says (time-based state: staleness, skew). */
const MAX_AGE_MS = 5 * 60_000;

/**
 * Materialized views (issue 24): a view is computed once and kept until something that can
 * change it happens — a commit or removal touching the digest or a base it inherits from, a
 * new trust graph, the next expiry among the evidence of it or of any base view it read. Reads of an unchanged digest cost a
 * map lookup. Bounded in entries and in (estimated) bytes, least recently used evicted first,
 * so a flood of distinct digests evicts but never grows memory past the bound.
 *
 * A view computed while a commit landed is not kept (the commit may have come after its
 * read): `begin()` before computing, `put()` with what it returned.
 */
export class ViewCache<V extends ReputationView> {
  private readonly entries = new Map<string, Entry<V>>();
  /** dep digest -> cached digests that read it. */
  private readonly dependents = new Map<string, Set<string>>();
  private bytesHeld = 0;
  /**
   * The node's current trust graph, as the trust state announces it (`trustChanged`): every
   * kept view was computed with it. A new graph (a trust change) empties the cache — nothing
   * kept under the old one is right any more, and no entry holds an old graph in memory — and
   * a view asked or computed with any other graph (a computation that began before the change)
   * is neither served from the cache nor kept.
   */
  private graph: TrustGraph | undefined;
  /** Bumped by every invalidation: a computation that saw it change is not kept. */
  private epoch = 0;
  readonly stats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytesHeld };
  }

  /** The trust state computed a new graph: what was kept goes. */
  trustChanged(graph: TrustGraph): void {
    if (graph === this.graph) return;
    this.clear();
    this.graph = graph;
  }

  get(digest: string, graph: TrustGraph, now: number): V | undefined {
    const e = graph === this.graph ? this.entries.get(digest) : undefined;
    if (e === undefined || now >= e.validUntil) {
      if (e !== undefined) this.drop(digest);
      this.stats.misses++;
      return undefined;
    }
    // Most recently used goes last.
    this.entries.delete(digest);
    this.entries.set(digest, e);
    this.stats.hits++;
    return e.view;
  }

  /** A token for `put`: whether anything was invalidated between the two. */
  begin(): number {
    return this.epoch;
  }

  /**
   * Keeps `view`, computed at `now` with `graph`, having read the digests `deps` and computed
   * the views `read` on the way (its own and its bases': an expiry in any of them can change it).
   */
  put(token: number, digest: string, graph: TrustGraph, now: number, view: V, deps: readonly string[], read: readonly ReputationView[]): void {
    if (this.maxEntries <= 0 || token !== this.epoch || graph !== this.graph) return;
    // Its size as served: what it holds is mostly the predicates it lists, of any size — the
    // object (about twice its JSON), and beside it the served bytes of the whole view and of
    // its summary (served-view.ts; at most its JSON and a half).
    const bytes = 512 + Math.ceil(JSON.stringify(view).length * 3.5);
    if (bytes > this.maxBytes / 16) return; // one huge view does not push out many
    this.drop(digest);
    const entry: Entry<V> = { view, validUntil: Math.min(now + MAX_AGE_MS, ...read.map((v) => nextExpiry(v, now)), nextExpiry(view, now)), deps, bytes };
    this.entries.set(digest, entry);
    this.bytesHeld += bytes;
    for (const d of deps) {
      let set = this.dependents.get(d);
      if (set === undefined) this.dependents.set(d, (set = new Set()));
      set.add(digest);
    }
    while (this.entries.size > this.maxEntries || this.bytesHeld > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.drop(oldest);
      this.stats.evictions++;
    }
  }

  /** Something about `digest` changed (a commit, a removal): every view that read it goes. */
  invalidate(digests: Iterable<string>): void {
    this.epoch++;
    for (const d of digests) {
      const readers = this.dependents.get(d);
      if (readers === undefined) continue;
      for (const r of [...readers]) {
        this.drop(r);
        this.stats.invalidations++;
      }
    }
  }

  /** Drops everything kept (the graph stays the current one). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.dependents.clear();
    this.bytesHeld = 0;
  }

  private drop(digest: string): void {
    const e = this.entries.get(digest);
    if (e === undefined) return;
    this.entries.delete(digest);
    this.bytesHeld -= e.bytes;
    for (const d of e.deps) {
      const set = this.dependents.get(d);
      set?.delete(digest);
      if (set?.size === 0) this.dependents.delete(d);
    }
  }
}

/** The first moment after `now` at which an item of the view expires (Infinity if none). */
function nextExpiry(view: ReputationView, now: number): number {
  let next = Infinity;
  for (const group of Object.values(view.byPredicate)) {
    for (const item of group.attestations) {
      if (item.expiresAt === undefined) continue;
      const at = Date.parse(item.expiresAt);
      if (at > now && at < next) next = at;
    }
  }
  return next;
}

