import type { LineagePredicate } from '../statement/predicates.js';
import { scopeOf, type Scope } from './policy.js';
import type { InheritedInput } from './view.js';
import type { ModelVerdict, ReputationView } from './view-schema.js';

export type Relation = 'quantized' | 'fine-tuned' | 'merged' | 'converted' | 'distilled' | 'pruned';

/** How many lineage hops a finding may travel (a base of a base), at most. */
export const MAX_LINEAGE_DEPTH = 2;
/** Bases considered per model, at most. */
export const MAX_BASES = 4;

/**
 * What a counted finding about a base model means for a model derived from it (SPEC §10.5),
 * or undefined when it does not carry over:
 *
 * | relation                     | audit                                   | dealignment | license | payload |
 * |------------------------------|-----------------------------------------|-------------|---------|---------|
 * | converted                    | as is                                   | as is       | as is   | no      |
 * | quantized, pruned            | fail, warn → warn; pass no              | as is       | as is   | no      |
 * | fine-tuned, merged, distilled| fail, warn → warn unless its own audit  | fail → warn | as is   | no      |
 *
 * A payload finding is about bytes of one file, which a derived model does not share.
 */
export function inheritedVerdict(kind: Scope, verdict: ModelVerdict, relation: Relation, ownAudit: boolean): ModelVerdict | undefined {
  if (kind === 'payload' || kind === 'lineage' || verdict === 'info') return undefined;
  if (kind === 'license') return verdict;
  if (relation === 'converted') return verdict;
  const lossy = relation === 'quantized' || relation === 'pruned';
  if (kind === 'dealignment') return lossy ? verdict : verdict === 'fail' ? 'warn' : verdict;
  // audit
  if (verdict === 'pass') return undefined;
  if (!lossy && ownAudit) return undefined;
  return 'warn';
}

/** A base model that a counted lineage claim names (SPEC §10.5). */
export interface LineageBase {
  /** Hex SHA-256 of the base. */
  readonly digest: string;
  readonly relation: Relation;
  /** The lineage claim's issuer and id. */
  readonly by: string;
  readonly id: string;
  /** What the claim weighs: a finding carried over weighs at most this. */
  readonly weight: number;
}

/** The walk of one view over lineage: digests already viewed on it, and how many base views are left. */
export interface LineageWalk {
  readonly visited: Set<string>;
  bases: number;
}

/** A fresh walk from `digest`: it is visited, MAX_BASES base views are left. */
export function lineageWalk(digest: string): LineageWalk {
  return { visited: new Set([digest]), bases: MAX_BASES };
}

/**
 * The bases named by the counted lineage claims of `own` (SPEC §10.5), in claim order: a
 * digest already on the walk is skipped (cycles add nothing), and at most `walk.bases` are
 * taken in all. Marks them on the walk.
 */
export function lineageBases(own: ReputationView, walk: LineageWalk): LineageBase[] {
  const claims = (own.byPredicate['lineage']?.attestations ?? []).filter((i) => i.counts);
  const bases: LineageBase[] = [];
  for (const claim of claims) {
    for (const from of (claim.predicate as unknown as LineagePredicate).derivedFrom) {
      if (walk.bases <= 0 || walk.visited.has(from.digest.sha256)) continue;
      walk.visited.add(from.digest.sha256);
      walk.bases--;
      bases.push({ digest: from.digest.sha256, relation: from.relation, by: claim.issuer, id: claim.id, weight: claim.weight ?? 0 });
    }
  }
  return bases;
}

/**
 * The findings the bases' views carry over to the model whose own view is `own` (SPEC §10.5):
 * only counted findings with a verdict, mapped by `inheritedVerdict`; each finding once (not
 * if it is one of the model's own); an issuer's own counted word on the model, in a kind,
 * supersedes what it said about a base, and of its findings about the bases in a kind only
 * the newest carries over; a finding weighs the lesser of its weight and the lineage claim's.
 */
export function inheritFrom(own: ReputationView, bases: readonly { readonly base: LineageBase; readonly view: ReputationView }[]): InheritedInput[] {
  const ownAudit = (own.byPredicate['audit']?.counted ?? 0) > 0;
  const ownIds = new Set(Object.values(own.byPredicate).flatMap((g) => g.attestations.map((i) => i.id)));
  const ownCounted = new Set(Object.entries(own.byPredicate).flatMap(([kind, g]) => g.attestations.filter((i) => i.counts).map((i) => `${i.issuer} ${kind}`)));
  const best = new Map<string, InheritedInput>();
  for (const { base, view } of bases) {
    for (const [group, summary] of Object.entries(view.byPredicate)) {
      const kind = scopeOf(group);
      if (kind === undefined) continue;
      for (const item of summary.attestations) {
        if (!item.counts || item.verdict === undefined) continue;
        const verdict = inheritedVerdict(kind, item.verdict, base.relation, ownAudit);
        const key = `${item.issuer} ${kind}`;
        if (verdict === undefined || ownIds.has(item.id) || ownCounted.has(key)) continue;
        const prev = best.get(key);
        if (prev !== undefined && prev.item.issuedAt >= item.issuedAt) continue;
        best.set(key, {
          item,
          kind,
          verdict,
          weight: Math.min(item.weight ?? 0, base.weight),
          inherited: { from: `sha256:${base.digest}`, relation: base.relation, lineageBy: base.by, lineageId: base.id, originalVerdict: item.inherited?.originalVerdict ?? item.verdict },
        });
      }
    }
  }
  return [...best.values()];
}
