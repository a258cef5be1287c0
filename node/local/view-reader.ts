import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import type { Decision } from '../../src/ingest/decide.js';
import type { TrustGraph } from '../../src/reputation/trust-graph.js';
import type { AttestationStore, StoredAttestation } from '../store/attestation-store.js';

/** How many decoded attestations the cache keeps in all (~2-3 KB each). */
const CACHE_ITEMS = 20_000;
/** A view counts at most this many attestations of one issuer about one digest, its newest. */
export const PER_ISSUER = 1000;

const keysOfGraph = new WeakMap<TrustGraph, { dids: ReadonlySet<string>; keys: ReadonlySet<string> }>();

/** The counting issuers of a graph, as dids and as public keys in hex (what index keys hold). */
function countingOf(graph: TrustGraph): { dids: ReadonlySet<string>; keys: ReadonlySet<string> } {
  let c = keysOfGraph.get(graph);
  if (c === undefined) {
    const dids = graph.counting();
    const keys = new Set([...dids].flatMap((did) => {
      const pub = publicKeyFromDidKey(did);
      return pub === undefined ? [] : [Buffer.from(pub).toString('hex')];
    }));
    keysOfGraph.set(graph, (c = { dids, keys }));
  }
  return c;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * Reads what a view of a digest needs: the attestations of the issuers that count, found
 * whichever way is cheaper — a seek per counting issuer, or one pass over the digest's
 * (issuer, seq) index keys — each issuer with at most its newest PER_ISSUER. Recently
 * read digests are kept decoded (a model loader asks about the same files again and
 * again), dropped as soon as a commit or removal touches them or the issuers that count change.
 */
export class ViewReader {
  private readonly cache = new Map<string, readonly StoredAttestation[]>();
  private items = 0;
  private graph: TrustGraph | undefined;
  /**
   * Reads under way, one per digest: concurrent misses share it, so a burst of questions
   * about a digest whose entry was just dropped costs one read, not one each. `touched`: a
   * commit or removal about the digest landed meanwhile, so what it returns may miss it
   * (not cached, not shared further).
   */
  private readonly reading = new Map<string, { graph: TrustGraph; touched: boolean; items: Promise<readonly StoredAttestation[]> }>();
  /** Reads answered from the cache, joined to a read under way, or read from the store (metrics). */
  readonly stats = { hits: 0, shared: 0, misses: 0 };

  constructor(private readonly store: AttestationStore) {}

  /** Digests and decoded attestations the cache holds now. */
  get cached(): { digests: number; items: number } {
    return { digests: this.cache.size, items: this.items };
  }

  /** The counting issuers' attestations about `digest`. */
  async counting(digest: string, graph: TrustGraph, subjectCount: number): Promise<readonly StoredAttestation[]> {
    if (graph !== this.graph) {
      // What is cached depends only on who counts: a recomputation that keeps the same
      // counting issuers (most endorsement churn) keeps the cache.
      if (this.graph === undefined || !sameSet(countingOf(this.graph).dids, countingOf(graph).dids)) {
        this.cache.clear();
        this.items = 0;
      }
      this.graph = graph;
    }
    const hit = this.cache.get(digest);
    if (hit) {
      this.stats.hits++;
      this.cache.delete(digest); // most recently used goes last
      this.cache.set(digest, hit);
      return hit;
    }
    const running = this.reading.get(digest);
    if (running && !running.touched && (running.graph === graph || sameSet(countingOf(running.graph).dids, countingOf(graph).dids))) {
      this.stats.shared++;
      return running.items;
    }
    this.stats.misses++;
    const entry = { graph, touched: false, items: this.read(digest, graph, subjectCount) };
    this.reading.set(digest, entry);
    try {
      const items = await entry.items;
      if (!entry.touched && graph === this.graph && items.length <= CACHE_ITEMS / 10) {
        this.items += items.length - (this.cache.get(digest)?.length ?? 0);
        this.cache.set(digest, items);
        for (const [k, v] of this.cache) {
          if (this.items <= CACHE_ITEMS) break;
          this.cache.delete(k);
          this.items -= v.length;
        }
      }
      return items;
    } finally {
      if (this.reading.get(digest) === entry) this.reading.delete(digest);
    }
  }

  private async read(digest: string, graph: TrustGraph, subjectCount: number): Promise<readonly StoredAttestation[]> {
    const { dids, keys } = countingOf(graph);
    if (subjectCount === 0) return [];
    return dids.size * 8 <= subjectCount
      ? (await Promise.all([...dids].map((issuer) => this.store.newestBySubjectIssuer(digest, issuer, PER_ISSUER)))).flat()
      : this.store.bySubjectAmong(digest, keys, PER_ISSUER);
  }

  forgetSubject(digest: string): void {
    this.items -= this.cache.get(digest)?.length ?? 0;
    this.cache.delete(digest);
    const running = this.reading.get(digest);
    if (running) running.touched = true;
  }

  committed(ds: readonly Decision[]): void {
    for (const d of ds) {
      if (d.outcome !== 'accept') continue;
      for (const s of d.attestation.subjects) this.forgetSubject(s);
    }
  }
}
