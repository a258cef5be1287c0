import type { Decision } from '../../src/ingest/decide.js';
import type { TrustPolicy } from '../../src/reputation/policy.js';
import type { EndorsementInput } from '../../src/reputation/trust-graph.js';
import type { EndorsementPredicate, RetractionPredicate } from '../../src/statement/predicates.js';
import type { AttestationStore, Removed, StoredAttestation } from '../store/attestation-store.js';

/** An endorser's newest endorsements that take part in the graph, at most. */
const PER_ENDORSER = 1000;
/** Endorsements gathered for one computation, at most: past it the walk stops widening. */
const MAX_EDGES = 200_000;
/** Endorsers read from the store at once. */
const READ_AT_ONCE = 64;

/**
 * The endorsements the trust graph is computed from, gathered by walking out from this
 * node's roots and subscriptions (up to params.maxDepth hops), never by reading every
 * endorsement stored: a Sybil cluster nobody you trust endorses costs nothing, and one
 * that is endorsed costs at most its members' newest PER_ENDORSER each, MAX_EDGES in all.
 * Each endorser's list is cached until an attestation of theirs leaves, or until changes of
 * theirs that landed are released (TrustState decides when: SPEC §14.8); until then the
 * graph is computed from the list as it was.
 */
export class EndorsementSource {
  private readonly cache = new Map<string, EndorsementInput[]>();
  /** The issuers the last walk reached: only their endorsements can change the graph. */
  private visited: ReadonlySet<string> = new Set();
  /** A cached endorsement left the store (or nothing was gathered yet): the graph is stale. */
  dirty = true;
  /** Per reached endorser, changes that landed but are not in its cached list yet. */
  private readonly waiting = new Map<string, number>();
  /** Endorsers whose lists are being read from the store. */
  private readonly reading = new Set<string>();

  constructor(private readonly store: AttestationStore) {}

  /**
   * The endorsements the graph needs, walked out from the policy's roots and subscriptions
   * layer by layer like the spreading itself: only live edges (newest per pair, weight > 0,
   * not retracted or expired), only into issuers that may still carry a trust worth counting
   * (an upper bound of their energy at least a tenth of minWeight), strongest first, and at
   * most MAX_EDGES edges in all. A weak or zero-weight endorsement of a key that endorses a
   * crowd costs a few reads, not the crowd.
   */
  async gather(policy: TrustPolicy, now: number): Promise<EndorsementInput[]> {
    const blocked = new Set(policy.blocks.map((b) => b.issuer));
    const d = policy.params.spread;
    const floor = policy.params.minWeight / 10;
    // Upper bound of what reaches each issuer over every kind: the roots' weights, spread.
    const energy = new Map<string, number>();
    for (const r of policy.roots) if (!blocked.has(r.issuer)) energy.set(r.issuer, Math.max(energy.get(r.issuer) ?? 0, r.weight / d));
    for (const sub of policy.subscriptions) if (!blocked.has(sub.issuer)) energy.set(sub.issuer, Math.max(energy.get(sub.issuer) ?? 0, sub.weight / d));
    const visited = new Set(energy.keys());
    let frontier = [...visited].sort((a, b) => (energy.get(b) ?? 0) - (energy.get(a) ?? 0));
    const out: EndorsementInput[] = [];
    for (let depth = 0; depth < policy.params.maxDepth && frontier.length > 0 && out.length < MAX_EDGES; depth++) {
      const reach = new Map<string, number>();
      for (let i = 0; i < frontier.length && out.length < MAX_EDGES; i += READ_AT_ONCE) {
        const batch = frontier.slice(i, i + READ_AT_ONCE);
        const lists = await Promise.all(batch.map((issuer) => this.of(issuer)));
        lists.forEach((list, b) => {
          const live = liveEdges(list, blocked, now);
          const from = batch[b] as string;
          const amount = d * (energy.get(from) ?? 0);
          const norm = Math.max(1, live.reduce((n, e) => n + e.weight, 0));
          for (const e of live.sort((x, y) => y.weight - x.weight)) {
            if (out.length >= MAX_EDGES) return;
            out.push(e);
            if (!visited.has(e.endorsed)) reach.set(e.endorsed, (reach.get(e.endorsed) ?? 0) + (amount * e.weight) / norm);
          }
        });
      }
      frontier = [];
      for (const [issuer, e] of [...reach].sort((a, b) => b[1] - a[1])) {
        if (e < floor) continue;
        visited.add(issuer);
        energy.set(issuer, e);
        frontier.push(issuer);
      }
    }
    if (this.cache.size > 4 * visited.size + 10_000) {
      for (const k of this.cache.keys()) if (!visited.has(k)) this.cache.delete(k);
    }
    for (const k of this.waiting.keys()) if (!visited.has(k)) this.release([k]);
    this.visited = visited;
    this.dirty = false;
    return out;
  }

  /** Reached endorsers with changes not yet applied, and how many each. */
  get pending(): ReadonlyMap<string, number> {
    return this.waiting;
  }

  /** The next gather reads these endorsers' lists afresh, with every change that landed. */
  release(issuers: Iterable<string>): void {
    for (const i of issuers) {
      this.cache.delete(i);
      this.waiting.delete(i);
    }
  }

  private async of(issuer: string): Promise<EndorsementInput[]> {
    const hit = this.cache.get(issuer);
    if (hit) return hit;
    this.reading.add(issuer);
    try {
      const stored = await this.store.endorsementsBy(issuer, PER_ENDORSER);
      // Withdrawn only by a retraction of the endorser's own (SPEC §9). The lookups at once:
      // one after another, an endorser with many endorsements held a recomputation for long.
      const retracted = await Promise.all(stored.map((a) => this.store.retractedBy(a.id, a.issuer)));
      const list = stored.map((a, i) => toInput(a, retracted[i] as boolean));
      this.cache.set(issuer, list);
      return list;
    } finally {
      this.reading.delete(issuer);
    }
  }

  /**
   * What a commit changes: an endorsement or retraction by a cached endorser. One the walk
   * reaches waits (its cached list kept) until released; one it does not reach cannot change
   * the graph (a Sybil's costs nothing), so its list is just read afresh when needed.
   */
  committed(ds: readonly Decision[]): void {
    for (const d of ds) {
      if (d.outcome !== 'accept') continue;
      const k = d.attestation.kind;
      if (k !== 'endorsement' && k !== 'retraction') continue;
      const issuer = d.attestation.issuer;
      if (k === 'retraction') {
        const target = (d.attestation.statement.predicate as RetractionPredicate).target;
        const list = this.cache.get(issuer);
        if (!list?.some((e) => e.id === target)) continue;
      }
      // One being read now may or may not have the change in what it reads: it waits too.
      if ((this.visited.has(issuer) && this.cache.has(issuer)) || this.reading.has(issuer)) this.waiting.set(issuer, (this.waiting.get(issuer) ?? 0) + 1);
      else this.cache.delete(issuer);
    }
  }

  removed(rs: readonly Removed[]): void {
    for (const r of rs) {
      if (this.cache.get(r.issuer)?.some((e) => e.id === r.id)) {
        this.release([r.issuer]);
        this.dirty = true;
      }
    }
  }
}

/** The endorsements that can carry trust: the newest per endorsed issuer, live, weight > 0. */
function liveEdges(list: readonly EndorsementInput[], blocked: ReadonlySet<string>, now: number): EndorsementInput[] {
  const newest = new Map<string, EndorsementInput>();
  for (const e of list) {
    const cur = newest.get(e.endorsed);
    if (cur === undefined || e.issuedAt > cur.issuedAt || (e.issuedAt === cur.issuedAt && e.id > cur.id)) newest.set(e.endorsed, e);
  }
  return [...newest.values()].filter((e) => !e.retracted && (e.expiresAt === undefined || e.expiresAt > now) && e.weight > 0 && e.endorsed !== e.endorser && !blocked.has(e.endorsed));
}

function toInput(a: StoredAttestation, retracted: boolean): EndorsementInput {
  const p = a.statement.predicate as EndorsementPredicate;
  return { id: a.id, endorser: a.issuer, endorsed: p.endorsed, scope: p.scope, weight: p.weight, issuedAt: a.issuedAt, expiresAt: a.expiresAt, retracted };
}
