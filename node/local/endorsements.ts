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

  /** The endorsements reachable from the policy's roots and subscriptions. */
  async gather(policy: TrustPolicy, self: string | undefined): Promise<EndorsementInput[]> {
    const blocked = new Set(policy.blocks.map((b) => b.issuer));
    const seeds = [...policy.roots.map((r) => r.issuer), ...policy.subscriptions.map((s) => s.issuer), ...(self ? [self] : [])].filter((i) => !blocked.has(i));
    const visited = new Set(seeds);
    let frontier = [...visited];
    const out: EndorsementInput[] = [];
    for (let depth = 0; depth < policy.params.maxDepth && frontier.length > 0 && out.length < MAX_EDGES; depth++) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length && out.length < MAX_EDGES; i += READ_AT_ONCE) {
        const lists = await Promise.all(frontier.slice(i, i + READ_AT_ONCE).map((issuer) => this.of(issuer)));
        for (const list of lists) {
          for (const e of list) {
            out.push(e);
            if (!visited.has(e.endorsed) && !blocked.has(e.endorsed)) {
              visited.add(e.endorsed);
              next.push(e.endorsed);
            }
          }
        }
      }
      frontier = next;
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
      let retracted = false;
      for (const rid of await this.store.retractionsOf(a.id)) {
        if ((await this.store.lookup(rid))?.issuer === a.issuer) retracted = true;
      }
      list.push(toInput(a, retracted));
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

function toInput(a: StoredAttestation, retracted: boolean): EndorsementInput {
  const p = a.statement.predicate as EndorsementPredicate;
  return { id: a.id, endorser: a.issuer, endorsed: p.endorsed, scope: p.scope, weight: p.weight, issuedAt: a.issuedAt, expiresAt: a.expiresAt, retracted };
}
