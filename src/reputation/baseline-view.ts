import type { PredicateKind, RetractionPredicate } from '../statement/predicates.js';
import type { Statement } from '../statement/statement.js';
import { verdictOf, worst } from './verdicts.js';
import type { CountReason, EvidenceItem, ModelVerdict, PredicateSummary, ReputationView, Status } from './view-schema.js';

export type { CountReason, EvidenceItem, PredicateSummary, ReputationView, Status };

/** An attestation as the view needs it: what the store hands back. */
export interface ViewInput {
  readonly id: string;
  readonly issuer: string;
  readonly kind: PredicateKind | undefined;
  readonly statement: Statement;
  readonly issuedAt: number;
  readonly expiresAt: number | undefined;
  readonly receivedAt: number;
}

/** Whose attestations count. The baseline: a flat list of trusted issuers. */
export interface TrustPolicy {
  readonly trusted: ReadonlySet<string>;
}

/**
 * The baseline reputation view of one digest: every attestation grouped by predicate,
 * each marked with whether it counts and why, and a summary verdict per predicate.
 * Pure: the caller supplies the attestations, the trust policy and the time.
 */
export function baselineView(digest: string, inputs: readonly ViewInput[], policy: TrustPolicy, now: number): ReputationView {
  // Retractions withdraw only attestations of their own issuer.
  const retractedBy = new Map<string, string>();
  const issuerOf = new Map(inputs.map((a) => [a.id, a.issuer]));
  for (const a of inputs) {
    if (a.kind !== 'retraction') continue;
    const target = (a.statement.predicate as RetractionPredicate).target;
    if (issuerOf.get(target) === a.issuer && !retractedBy.has(target)) retractedBy.set(target, a.id);
  }

  const groups = new Map<string, EvidenceItem[]>();
  const sorted = [...inputs].sort((x, y) => y.issuedAt - x.issuedAt || (x.id < y.id ? -1 : 1));
  for (const a of sorted) {
    const group = a.kind ?? a.statement.predicateType;
    const predicate = a.statement.predicate as Record<string, unknown>;
    const verdict = verdictOf(a.kind, predicate);
    const retraction = retractedBy.get(a.id);
    let reason: CountReason;
    if (verdict === undefined) reason = 'not-scored';
    else if (retraction !== undefined) reason = 'retracted';
    else if (a.expiresAt !== undefined && a.expiresAt <= now) reason = 'expired';
    else if (!policy.trusted.has(a.issuer)) reason = 'untrusted';
    else reason = 'trusted';
    const item: EvidenceItem = {
      id: a.id,
      issuer: a.issuer,
      predicateType: a.statement.predicateType,
      issuedAt: new Date(a.issuedAt).toISOString(),
      ...(a.expiresAt === undefined ? {} : { expiresAt: new Date(a.expiresAt).toISOString() }),
      ...(verdict === undefined ? {} : { verdict }),
      counts: reason === 'trusted',
      reason,
      ...(retraction === undefined ? {} : { retractedBy: retraction }),
      predicate,
    };
    let list = groups.get(group);
    if (!list) groups.set(group, (list = []));
    list.push(item);
  }

  const byPredicate: Record<string, PredicateSummary> = {};
  const counted: ModelVerdict[] = [];
  for (const [group, items] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const verdicts = items.filter((i) => i.counts && i.verdict !== undefined).map((i) => i.verdict as ModelVerdict);
    counted.push(...verdicts);
    byPredicate[group] = { summary: worst(verdicts) ?? 'none', counted: verdicts.length, total: items.length, attestations: items };
  }
  const overall = worst(counted.filter((v) => v !== 'info'));
  const status: Status = overall === 'fail' ? 'flagged' : overall === 'warn' ? 'caution' : overall === 'pass' ? 'ok' : 'unknown';
  return { digest: `sha256:${digest}`, asOf: new Date(now).toISOString(), status, trustedIssuers: policy.trusted.size, byPredicate };
}
