import { SCOPES, type Scope, type TrustParams, type TrustPolicy } from './policy.js';
import type { TrustLookup } from './view.js';

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
    for (const e of [...policy.blocks, ...policy.subscriptions, ...policy.roots]) if (e.note !== undefined) this.notes.set(e.issuer, e.note);
    let n = 0;
    for (const r of this.reached().values()) if (Object.values(r).some((t) => t >= policy.params.minWeight)) n++;
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
    for (const m of this.byScope.values()) if ((m.get(issuer)?.trust ?? 0) >= this.policy.params.minWeight) return true;
    return false;
  }

  /** Every issuer that counts in some kind. */
  counting(): Set<string> {
    const out = new Set<string>();
    for (const m of this.byScope.values()) for (const [issuer, t] of m) if (t.trust >= this.policy.params.minWeight) out.add(issuer);
    return out;
  }

  static compute(policy: TrustPolicy, endorsements: Iterable<EndorsementInput>, now: number): TrustGraph {
    const blocked = new Set(policy.blocks.map((b) => b.issuer));
    // Supersession: per (endorser, endorsed), the newest live endorsement is the one that holds.
    const newest = new Map<string, EndorsementInput>();
    for (const e of endorsements) {
      const key = `${e.endorser} ${e.endorsed}`;
      const cur = newest.get(key);
      if (cur === undefined || e.issuedAt > cur.issuedAt || (e.issuedAt === cur.issuedAt && e.id > cur.id)) newest.set(key, e);
    }
    const live = [...newest.values()].filter((e) =>
      !e.retracted && (e.expiresAt === undefined || e.expiresAt > now) && e.weight > 0
      && e.endorser !== e.endorsed && !blocked.has(e.endorser) && !blocked.has(e.endorsed));
    const byScope = new Map<Scope, Map<string, ScopedTrust>>();
    for (const scope of SCOPES) byScope.set(scope, spread(policy, live.filter((e) => e.scope.includes('*') || e.scope.includes(scope)), scope, blocked));
    return new TrustGraph(byScope, blocked, policy, live.length);
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
    for (const [scope, m] of this.byScope) {
      for (const [issuer, t] of m) {
        if (t.trust <= 0) continue;
        let r = out.get(issuer);
        if (!r) out.set(issuer, (r = {}));
        r[scope] = t.trust;
      }
    }
    return out;
  }
}

function spread(policy: TrustPolicy, edges: readonly EndorsementInput[], scope: Scope, blocked: ReadonlySet<string>): Map<string, ScopedTrust> {
  const d = policy.params.spread;
  const out = new Map<string, ScopedTrust>();
  const adj = new Map<string, EndorsementInput[]>();
  for (const e of edges) {
    let l = adj.get(e.endorser);
    if (!l) adj.set(e.endorser, (l = []));
    l.push(e);
  }
  // Layer 0: roots (trusted as the policy says, and passing `spread` of it on) and
  // subscriptions (passing their whole weight on, trusted themselves only through a root).
  const level = new Map<string, number>();
  const roots = new Set<string>();
  const energy = new Map<string, number>();
  const best = new Map<string, { from: string; edge: EndorsementInput; amount: number }>();
  let layer: { issuer: string; out: number }[] = [];
  for (const r of policy.roots) {
    if (blocked.has(r.issuer) || !(r.scope.includes('*') || r.scope.includes(scope))) continue;
    level.set(r.issuer, 0);
    roots.add(r.issuer);
    out.set(r.issuer, { trust: r.weight, via: 'root', path: [] });
    layer.push({ issuer: r.issuer, out: d * r.weight });
  }
  // A subscription emits at layer 0 but holds no layer: a root may still endorse the curator
  // (its own attestations then count like any endorsed issuer's).
  const subscribed = new Set<string>();
  for (const s of policy.subscriptions) {
    if (blocked.has(s.issuer) || level.has(s.issuer)) continue;
    subscribed.add(s.issuer);
    layer.push({ issuer: s.issuer, out: s.weight });
  }
  for (let k = 0; k < policy.params.maxDepth && layer.length > 0; k++) {
    const next = new Set<string>();
    for (const { issuer, out: amount } of layer) {
      const list = adj.get(issuer);
      if (!list || amount <= 0) continue;
      const norm = Math.max(1, list.reduce((s, e) => s + e.weight, 0));
      for (const e of list) {
        const lv = level.get(e.endorsed);
        if (lv !== undefined && lv !== k + 1) continue; // back edge, cycle or same layer
        // A curator's own subscription energy must not come back to it through its list.
        if (lv === undefined && subscribed.has(e.endorsed) && !roots.has(issuer)) continue;
        level.set(e.endorsed, k + 1);
        const share = (amount * e.weight) / norm;
        energy.set(e.endorsed, (energy.get(e.endorsed) ?? 0) + share);
        const b = best.get(e.endorsed);
        if (b === undefined || share > b.amount) best.set(e.endorsed, { from: issuer, edge: e, amount: share });
        next.add(e.endorsed);
      }
    }
    layer = [...next].map((issuer) => ({ issuer, out: d * (energy.get(issuer) as number) }));
  }
  const pathTo = (issuer: string): TrustHop[] => {
    const hops: TrustHop[] = [];
    let cur = issuer;
    for (let guard = 0; guard <= policy.params.maxDepth; guard++) {
      const b = best.get(cur);
      if (b === undefined) break;
      hops.unshift({ from: b.from, to: cur, endorsement: b.edge.id, weight: b.edge.weight });
      cur = b.from;
    }
    return hops;
  };
  for (const [issuer, e] of energy) out.set(issuer, { trust: (1 - d) * e, via: 'endorsed', path: pathTo(issuer) });
  return out;
}
