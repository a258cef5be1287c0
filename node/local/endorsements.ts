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
 * Each endorser's list is cached until an attestation of theirs lands or leaves.
 */
export class EndorsementSource {
  private readonly cache = new Map<string, EndorsementInput[]>();
  /** The issuers the last walk reached: only their endorsements can change the graph. */
  private visited: ReadonlySet<string> = new Set();
  /** Some cached endorsement changed (or one of a cached endorser): the graph is stale. */
  dirty = true;

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
    this.visited = visited;
    this.dirty = false;
    return out;
  }

  private async of(issuer: string): Promise<EndorsementInput[]> {
    const hit = this.cache.get(issuer);
    if (hit) return hit;
    const stored = await this.store.endorsementsBy(issuer, PER_ENDORSER);
    const list: EndorsementInput[] = [];
    for (const a of stored) {
      // Withdrawn only by a retraction of the endorser's own (SPEC §9).
      list.push(toInput(a, await this.store.retractedBy(a.id, a.issuer)));
    }
    this.cache.set(issuer, list);
    return list;
  }

  /** What a commit changes: an endorsement or retraction by a cached endorser. */
  committed(ds: readonly Decision[]): void {
    for (const d of ds) {
      if (d.outcome !== 'accept') continue;
      const k = d.attestation.kind;
      if (k !== 'endorsement' && k !== 'retraction') continue;
      if (k === 'retraction') {
        const target = (d.attestation.statement.predicate as RetractionPredicate).target;
        const list = this.cache.get(d.attestation.issuer);
        if (!list?.some((e) => e.id === target)) continue;
      }
      this.cache.delete(d.attestation.issuer);
      // An endorser the walk does not reach cannot change the graph (a Sybil's costs nothing).
      if (this.visited.has(d.attestation.issuer)) this.dirty = true;
    }
  }

  removed(rs: readonly Removed[]): void {
    for (const r of rs) {
      if (this.cache.get(r.issuer)?.some((e) => e.id === r.id)) {
        this.cache.delete(r.issuer);
        this.dirty = true;
      }
    }
  }

  /** The earliest expiry among cached endorsements after `now` (the graph changes then). */
  nextExpiry(now: number): number | undefined {
    let next: number | undefined;
    for (const list of this.cache.values()) {
      for (const e of list) if (e.expiresAt !== undefined && e.expiresAt > now && (next === undefined || e.expiresAt < next)) next = e.expiresAt;
    }
    return next;
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
