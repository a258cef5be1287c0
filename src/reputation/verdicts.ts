import type {
  AuditPredicate, DealignmentPredicate, LicensePredicate, PayloadPredicate, PredicateKind,
} from '../statement/predicates.js';

import type { ModelVerdict } from './view-schema.js';

export type { ModelVerdict };

/** The verdict an attestation of a scored kind expresses; undefined for kinds not about the model's safety. */
export function verdictOf(kind: PredicateKind | undefined, predicate: Record<string, unknown>): ModelVerdict | undefined {
  switch (kind) {
    case 'audit':
      return (predicate as AuditPredicate).verdict;
    case 'dealignment':
      // Saying "this digest is a known de-aligned variant" is a finding against it.
      void (predicate as DealignmentPredicate);
      return 'fail';
    case 'license': {
      const v = (predicate as LicensePredicate).verdict;
      return v === 'compliant' ? 'pass' : v === 'noncompliant' ? 'fail' : 'warn';
    }
    case 'payload': {
      const p = predicate as PayloadPredicate;
      if (p.finding.kind === 'clean') return 'pass';
      if (p.severity === 'high' || p.severity === 'critical') return 'fail';
      if (p.severity === 'info') return 'info';
      return 'warn';
    }
    case 'lineage':
    case 'provenance':
      return 'info';
    default:
      return undefined;
  }
}

const RANK: Record<ModelVerdict, number> = { info: 0, pass: 1, warn: 2, fail: 3 };

/** The most severe of the verdicts (fail > warn > pass > info), or undefined for none. */
export function worst(verdicts: Iterable<ModelVerdict>): ModelVerdict | undefined {
  let w: ModelVerdict | undefined;
  for (const v of verdicts) if (w === undefined || RANK[v] > RANK[w]) w = v;
  return w;
}
