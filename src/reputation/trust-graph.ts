import { SCOPES, type Scope, type TrustParams, type TrustPolicy } from './policy.js';

/** An endorsement as the trust graph needs it (SPEC §10.2). */
export interface EndorsementInput {
  readonly id: string;
  readonly endorser: string;
  readonly endorsed: string;
  /** Predicate kinds, or '*'. */
  readonly scope: readonly string[];
  readonly weight: number;
  /** epoch ms */
  readonly issuedAt: number;
  readonly expiresAt: number | undefined;
  /** Withdrawn by its issuer's retraction. */
  readonly retracted: boolean;
}

/** One hop of a trust path: from an issuer, through an endorsement, to the next. */
export interface TrustHop {
  readonly from: string;
  readonly to: string;
  /** The endorsement's id; undefined for the policy's own root or subscription entry. */
  readonly endorsement: string | undefined;
  readonly weight: number;
}

/** Why and how much an issuer is trusted in one scope. */
export interface ScopedTrust {
  readonly trust: number;
  /** root: in the policy; endorsed: reached through endorsements; blocked: never counts. */
  readonly via: 'root' | 'endorsed' | 'blocked';
  /** The strongest path from a root (or subscription) to this issuer; empty for a root. */
  readonly path: readonly TrustHop[];
}

/** What the view asks of the node's trust (a TrustGraph, SPEC §10.2). */
export interface TrustLookup {
  trust(issuer: string, scope: Scope): ScopedTrust;
  isBlocked(issuer: string): boolean;
  readonly params: TrustParams;
  /** Your name for an issuer (its trust-list note). */
  noteOf(issuer: string): string | undefined;
  /** How many issuers the trust reaches at or above minWeight. */
  readonly reachedCount: number;
}

/**
 * Trust computed from this node's roots only: per scope, energy injected at the roots
 * (their weight) and subscriptions spreads along endorsements in breadth-first layers.
 * Each issuer keeps (1 - spread) of what reaches it and passes `spread` on, split in
 * proportion to its endorsements' weights (never more than it has). Edges that do not
 * lead one layer further (back edges, cycles, same-layer edges) carry nothing.
 *
 * Bound (SPEC §10.2): energy is conserved and only leaves an issuer along its own
 * endorsements, so a set of issuers reached only through one endorsement holds, in total,
 * at most the energy that endorsement carries, however its members endorse each other.
 */
export class TrustGraph implements TrustLookup {
  private readonly notes = new Map<string, string>();
  readonly reachedCount: number;

  private constructor(
    private readonly byScope: ReadonlyMap<Scope, ReadonlyMap<string, ScopedTrust>>,
    private readonly blocked: ReadonlySet<string>,
    readonly policy: TrustPolicy,
    /** Live endorsements that took part, after supersession. */
    readonly edges: number,
  ) {
    for (const entry of [...policy.blocks, ...policy.subscriptions, ...policy.roots]) if (entry.note !== undefined) this.notes.set(entry.issuer, entry.note);
    let n = 0;
    for (const trusts of this.reached().values()) if (Object.values(trusts).some((weight) => weight >= policy.params.minWeight)) n++;
    this.reachedCount = n;
  }

  get params(): TrustParams {
    return this.policy.params;
  }

  noteOf(issuer: string): string | undefined {
    return this.notes.get(issuer);
  }

  /** Whether the issuer counts in some kind (trust at or above minWeight): not a stranger. */
  counts(issuer: string): boolean {
    if (this.blocked.has(issuer)) return false;
    for (const trustByIssuer of this.byScope.values()) if ((trustByIssuer.get(issuer)?.trust ?? 0) >= this.policy.params.minWeight) return true;
    return false;
  }

  private countingSet: ReadonlySet<string> | undefined;

  /** Every issuer that counts in some kind (made once: the graph never changes). */
  counting(): ReadonlySet<string> {
    if (this.countingSet !== undefined) return this.countingSet;
    const out = new Set<string>();
    for (const trustByIssuer of this.byScope.values()) for (const [issuer, scoped] of trustByIssuer) if (scoped.trust >= this.policy.params.minWeight) out.add(issuer);
    return (this.countingSet = out);
  }

  static compute(policy: TrustPolicy, endorsements: Iterable<EndorsementInput>, now: number): TrustGraph {
    const blocked = new Set(policy.blocks.map((block) => block.issuer));
    // Supersession: per (endorser, endorsed), the newest endorsement is the one that holds
    // (per endorser, a map by endorsed: no pair keys built for every edge).
    const newest = new Map<string, Map<string, EndorsementInput>>();
    for (const endorsement of endorsements) {
      let byEndorsed = newest.get(endorsement.endorser);
      if (byEndorsed === undefined) newest.set(endorsement.endorser, (byEndorsed = new Map()));
      const cur = byEndorsed.get(endorsement.endorsed);
      if (cur === undefined || endorsement.issuedAt > cur.issuedAt || (endorsement.issuedAt === cur.issuedAt && endorsement.id > cur.id)) byEndorsed.set(endorsement.endorsed, endorsement);
    }
    // One adjacency for every kind (each scope filters an endorser's list when the walk
    // reaches it): the walk touches the endorsers it reaches, not every edge once per kind.
    const adjacency = new Map<string, EndorsementInput[]>();
    let live = 0;
    for (const [endorser, byEndorsed] of newest) {
      if (blocked.has(endorser)) continue;
      const list: EndorsementInput[] = [];
      for (const endorsement of byEndorsed.values()) {
        if (endorsement.retracted || (endorsement.expiresAt !== undefined && endorsement.expiresAt <= now) || endorsement.weight <= 0
          || endorsement.endorser === endorsement.endorsed || blocked.has(endorsement.endorsed)) continue;
        list.push(endorsement);
      }
      live += list.length;
      if (list.length > 0) adjacency.set(endorser, list);
    }
    // Kinds no live endorsement names, whose roots are the same, spread the same way: computed once.
    const named = new Set<string>();
    for (const list of adjacency.values()) for (const edge of list) for (const kind of edge.scope) named.add(kind);
    const shared = new Map<string, Map<string, ScopedTrust>>();
    const byScope = new Map<Scope, Map<string, ScopedTrust>>();
    for (const scope of SCOPES) {
      const key = named.has(scope) ? scope : `unnamed ${policy.roots.map((root) => (root.scope.includes('*') || root.scope.includes(scope) ? 1 : 0)).join('')}`;
      let trust = shared.get(key);
      if (trust === undefined) shared.set(key, (trust = spread(policy, adjacency, scope, blocked)));
      byScope.set(scope, trust);
    }
    return new TrustGraph(byScope, blocked, policy, live);
  }

  /** The issuer's trust in a scope (0 when unreached or blocked). */
  trust(issuer: string, scope: Scope): ScopedTrust {
    if (this.blocked.has(issuer)) return { trust: 0, via: 'blocked', path: [] };
    return this.byScope.get(scope)?.get(issuer) ?? { trust: 0, via: 'endorsed', path: [] };
  }

  isBlocked(issuer: string): boolean {
    return this.blocked.has(issuer);
  }

  /** Every issuer with some trust in some scope. */
  reached(): Map<string, Partial<Record<Scope, number>>> {
    const out = new Map<string, Partial<Record<Scope, number>>>();
    for (const [scope, trustByIssuer] of this.byScope) {
      for (const [issuer, scoped] of trustByIssuer) {
        if (scoped.trust <= 0) continue;
        let trusts = out.get(issuer);
        if (!trusts) out.set(issuer, (trusts = {}));
        trusts[scope] = scoped.trust;
      }
    }
    return out;
  }
}

function spread(policy: TrustPolicy, adjacency: ReadonlyMap<string, readonly EndorsementInput[]>, scope: Scope, blocked: ReadonlySet<string>): Map<string, ScopedTrust> {
  const spreadShare = policy.params.spread;
  const out = new Map<string, ScopedTrust>();
  /** An endorser's live endorsements in this scope, in input order. */
  const inScope = (issuer: string): EndorsementInput[] | undefined => {
    const list = adjacency.get(issuer)?.filter((edge) => edge.scope.includes('*') || edge.scope.includes(scope));
    return list === undefined || list.length === 0 ? undefined : list;
  };
  // Layer 0: roots (trusted as the policy says, and passing `spread` of it on) and
  // subscriptions (passing their whole weight on, trusted themselves only through a root).
  const level = new Map<string, number>();
  const roots = new Set<string>();
  const energy = new Map<string, number>();
  const best = new Map<string, { from: string; edge: EndorsementInput; amount: number }>();
  let layer: { issuer: string; out: number }[] = [];
  for (const root of policy.roots) {
    if (blocked.has(root.issuer) || !(root.scope.includes('*') || root.scope.includes(scope))) continue;
    level.set(root.issuer, 0);
    roots.add(root.issuer);
    out.set(root.issuer, { trust: root.weight, via: 'root', path: [] });
    layer.push({ issuer: root.issuer, out: spreadShare * root.weight });
  }
  // A subscription emits at layer 0 but holds no layer: a root may still endorse the curator
  // (its own attestations then count like any endorsed issuer's).
  const subscribed = new Set<string>();
  for (const subscription of policy.subscriptions) {
    if (blocked.has(subscription.issuer) || level.has(subscription.issuer)) continue;
    subscribed.add(subscription.issuer);
    layer.push({ issuer: subscription.issuer, out: subscription.weight });
  }
  for (let k = 0; k < policy.params.maxDepth && layer.length > 0; k++) {
    const next = new Set<string>();
    for (const { issuer, out: amount } of layer) {
      if (amount <= 0) continue;
      const list = inScope(issuer);
      if (!list) continue;
      const norm = Math.max(1, list.reduce((sum, edge) => sum + edge.weight, 0));
      for (const edge of list) {
        const lv = level.get(edge.endorsed);
        if (lv !== undefined && lv !== k + 1) continue; // back edge, cycle or same layer
        // A curator's own subscription energy must not come back to it through its list.
        if (lv === undefined && subscribed.has(edge.endorsed) && !roots.has(issuer)) continue;
        level.set(edge.endorsed, k + 1);
        const share = (amount * edge.weight) / norm;
        energy.set(edge.endorsed, (energy.get(edge.endorsed) ?? 0) + share);
        const prev = best.get(edge.endorsed);
        if (prev === undefined || share > prev.amount) best.set(edge.endorsed, { from: issuer, edge: edge, amount: share });
        next.add(edge.endorsed);
      }
    }
    layer = [...next].map((issuer) => ({ issuer, out: spreadShare * (energy.get(issuer) as number) }));
  }
  const pathTo = (issuer: string): TrustHop[] => {
    const hops: TrustHop[] = [];
    let cur = issuer;
    for (let guard = 0; guard <= policy.params.maxDepth; guard++) {
      const prev = best.get(cur);
      if (prev === undefined) break;
      hops.unshift({ from: prev.from, to: cur, endorsement: prev.edge.id, weight: prev.edge.weight });
      cur = prev.from;
    }
    return hops;
  };
  for (const [issuer, amount] of energy) out.set(issuer, { trust: (1 - spreadShare) * amount, via: 'endorsed', path: pathTo(issuer) });
  return out;
}
