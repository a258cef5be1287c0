import type { Scope } from './policy.js';
import type { ModelVerdict } from './view-schema.js';

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
