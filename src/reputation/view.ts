import type { PredicateKind, RetractionPredicate } from '../statement/predicates.js';
import type { Statement } from '../statement/statement.js';
import { scopeOf, type Scope, type TrustParams } from './policy.js';
import type { ScopedTrust, TrustLookup } from './trust-graph.js';

export type { TrustLookup };
import { verdictOf, worst } from './verdicts.js';
import type { CountReason, Dispute, EvidenceItem, Inherited, IssuerTrust, ModelVerdict, PredicateSummary, ReputationView, Status } from './view-schema.js';

export type { CountReason, EvidenceItem, PredicateSummary, ReputationView, Status };

/** An attestation as the view needs it: what the store hands back. */
export interface ViewInput {
  readonly id: string;
  readonly issuer: string;
  readonly kind: PredicateKind | undefined;
  readonly statement: Statement;
  readonly issuedAt: number;
  readonly expiresAt: number | undefined;
}


/** A counted finding about a base model, carried over by a trusted lineage claim (§10.5). */
export interface InheritedInput {
  readonly item: EvidenceItem;
  readonly kind: Scope;
  /** The verdict as it applies to the derived model. */
  readonly verdict: ModelVerdict;
  readonly weight: number;
  readonly inherited: Inherited;
}

export interface ViewOptions {
  /** What-if: this issuer's attestations are left out (reason `ignored`). */
  readonly without?: string | undefined;
  readonly inherited?: readonly InheritedInput[];
}

/** Trust and weights as views show them: 4 decimals (SPEC §10). */
export const round = (value: number): number => Math.round(value * 10_000) / 10_000;

/** An issuer's trust in one kind as views and the issuer page show it: rounded, with your notes on the path. */
export function issuerTrust(scoped: ScopedTrust, scope: Scope, notes: Pick<TrustLookup, 'noteOf'>): IssuerTrust {
  return {
    scope,
    trust: round(scoped.trust),
    via: scoped.via,
    path: scoped.path.map((hop) => {
      const fromNote = notes.noteOf(hop.from);
      return { from: hop.from, to: hop.to, weight: round(hop.weight), ...(hop.endorsement === undefined ? {} : { endorsement: hop.endorsement }), ...(fromNote === undefined ? {} : { fromNote }) };
    }),
  };
}
const GROUP_ORDER: Record<Status, number> = { flagged: 4, disputed: 3, caution: 2, ok: 1, unknown: 0 };

/**
 * The weighted status of one kind's counted evidence (SPEC §10.4): a dispute when both a
 * fail and a pass side reach `decideWeight` and the smaller is at least `disputeRatio` of
 * the larger; otherwise the heavier side decides, and fails or warnings outweighed by
 * passes still make caution when they reach `cautionRatio` of the pass weight.
 */
export function statusOfWeights(weights: { fail: number; warn: number; pass: number }, params: TrustParams, onFail: 'flagged' | 'caution'): Status {
  const threshold = params.decideWeight;
  const { fail: failWeight, warn: warnWeight, pass: passWeight } = weights;
  if (failWeight >= threshold && passWeight >= threshold && Math.min(failWeight, passWeight) / Math.max(failWeight, passWeight) >= params.disputeRatio) return 'disputed';
  if (failWeight >= threshold && failWeight >= passWeight) return onFail;
  if (passWeight >= threshold) return (failWeight >= threshold || warnWeight >= threshold) && (failWeight + warnWeight) / passWeight >= params.cautionRatio ? 'caution' : 'ok';
  if (failWeight >= threshold || warnWeight >= threshold) return 'caution';
  return 'unknown';
}

/**
 * This node's reputation view of one digest (SPEC §10): every attestation grouped by kind,
 * each with why it counts or not, its weight and its trust path; per kind and overall a
 * status from weighted evidence, disputes side by side, equivocating issuers, inherited
 * findings. Pure: the caller supplies the attestations, the trust, the time.
 */
export function reputationView(digest: string, inputs: readonly ViewInput[], trust: TrustLookup, now: number, opts: ViewOptions = {}): ReputationView {
  const params = trust.params;
  // Retractions withdraw only attestations of their own issuer; they do not expire (§9).
  const retractedBy = new Map<string, string>();
  const issuerOf = new Map(inputs.map((attestation) => [attestation.id, attestation.issuer]));
  for (const attestation of inputs) {
    if (attestation.kind !== 'retraction') continue;
    const target = (attestation.statement.predicate as RetractionPredicate).target;
    if (issuerOf.get(target) === attestation.issuer && !retractedBy.has(target)) retractedBy.set(target, attestation.id);
  }

  // First pass: the reasons that do not depend on other attestations.
  type Row = { a: ViewInput; verdict: ModelVerdict | undefined; scope: Scope | undefined; reason: CountReason; t: ScopedTrust | undefined; supersededBy?: string };
  const rows: Row[] = [];
  for (const attestation of inputs) {
    if (attestation.kind === 'retraction') continue; // shown on their targets, not as a group
    const verdict = verdictOf(attestation.kind, attestation.statement.predicate as Record<string, unknown>);
    const scope = scopeOf(attestation.kind);
    const scopedTrust = scope === undefined ? undefined : trust.trust(attestation.issuer, scope);
    let reason: CountReason;
    if (verdict === undefined || scope === undefined) reason = 'not-scored';
    else if (retractedBy.has(attestation.id)) reason = 'retracted';
    else if (attestation.expiresAt !== undefined && attestation.expiresAt <= now) reason = 'expired';
    else if (opts.without !== undefined && attestation.issuer === opts.without) reason = 'ignored';
    else if (trust.isBlocked(attestation.issuer)) reason = 'blocked';
    else if ((scopedTrust?.trust ?? 0) <= 0) reason = 'untrusted';
    else if ((scopedTrust?.trust ?? 0) < params.minWeight) reason = 'weak';
    else reason = 'trusted';
    rows.push({ a: attestation, verdict, scope, reason, t: scopedTrust });
  }

  // Supersession within one issuer and kind: the newest counts. Equal times with different
  // verdicts: the issuer equivocates, and none of those count.
  const equivocators = new Set<string>();
  const byIssuerKind = new Map<string, Row[]>();
  for (const row of rows) {
    if (row.reason !== 'trusted') continue;
    const key = `${row.a.issuer} ${row.scope}`;
    let list = byIssuerKind.get(key);
    if (!list) byIssuerKind.set(key, (list = []));
    list.push(row);
  }
  for (const list of byIssuerKind.values()) {
    if (list.length < 2) continue;
    list.sort((x, y) => y.a.issuedAt - x.a.issuedAt || (x.a.id < y.a.id ? -1 : 1));
    const newest = list[0] as Row;
    const tied = list.filter((row) => row.a.issuedAt === newest.a.issuedAt);
    if (new Set(tied.map((row) => row.verdict)).size > 1) {
      equivocators.add(newest.a.issuer);
      for (const row of tied) row.reason = 'equivocating';
    }
    // One attestation per issuer and kind counts: the newest (the first by id among equals),
    // so signing the same verdict many times weighs no more than signing it once.
    for (const row of list) {
      if (row !== newest && row.reason === 'trusted') {
        row.reason = 'superseded';
        row.supersededBy = newest.a.id;
      }
    }
  }

  const groups = new Map<string, EvidenceItem[]>();
  const add = (group: string, item: EvidenceItem): void => {
    let list = groups.get(group);
    if (!list) groups.set(group, (list = []));
    list.push(item);
  };
  const untrusted = { listed: 0, fail: 0, warn: 0, pass: 0, other: 0 };
  const sorted = [...rows].sort((x, y) => y.a.issuedAt - x.a.issuedAt || (x.a.id < y.a.id ? -1 : 1));
  for (const row of sorted) {
    const { a: attestation, t: scopedTrust } = row;
    if (row.reason === 'untrusted' || row.reason === 'weak') {
      untrusted.listed++;
      if (row.verdict === 'fail' || row.verdict === 'warn' || row.verdict === 'pass') untrusted[row.verdict]++;
      else untrusted.other++;
    }
    const counts = row.reason === 'trusted';
    const note = trust.noteOf(attestation.issuer);
    add(attestation.kind ?? attestation.statement.predicateType, {
      id: attestation.id,
      issuer: attestation.issuer,
      ...(note === undefined ? {} : { issuerNote: note }),
      predicateType: attestation.statement.predicateType,
      issuedAt: new Date(attestation.issuedAt).toISOString(),
      ...(attestation.expiresAt === undefined ? {} : { expiresAt: new Date(attestation.expiresAt).toISOString() }),
      ...(row.verdict === undefined ? {} : { verdict: row.verdict }),
      counts,
      reason: row.reason,
      ...(counts && scopedTrust ? { weight: round(scopedTrust.trust) } : {}),
      ...(scopedTrust && row.scope && scopedTrust.trust > 0 ? { trust: issuerTrust(scopedTrust, row.scope, trust) } : {}),
      ...(retractedBy.has(attestation.id) ? { retractedBy: retractedBy.get(attestation.id) as string } : {}),
      ...(row.supersededBy === undefined ? {} : { supersededBy: row.supersededBy }),
      predicate: attestation.statement.predicate as Record<string, unknown>,
    });
  }
  for (const inh of opts.inherited ?? []) {
    add(inh.kind, { ...inh.item, verdict: inh.verdict, counts: true, reason: 'trusted', weight: round(inh.weight), inherited: inh.inherited });
  }

  const byPredicate: Record<string, PredicateSummary> = {};
  const disputes: Dispute[] = [];
  let overall: Status = 'unknown';
  let decisive: { group: string; status: Status; item: EvidenceItem | undefined } | undefined;
  for (const [group, items] of [...groups].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const counted = items.filter((item) => item.counts && item.verdict !== undefined);
    const weights = { fail: 0, warn: 0, pass: 0, info: 0 };
    for (const item of counted) weights[item.verdict as ModelVerdict] += item.weight ?? 0;
    const scope = scopeOf(group);
    // Lineage and provenance are information: they never decide a status.
    const informative = scope === undefined || scope === 'lineage' || scope === 'provenance';
    const onFail = informative ? 'caution' : params.severity[scope];
    const status = informative ? 'unknown' : statusOfWeights(weights, params, onFail);
    byPredicate[group] = {
      status,
      summary: worst(counted.map((item) => item.verdict as ModelVerdict)) ?? 'none',
      counted: counted.length,
      total: items.length,
      weights: { fail: round(weights.fail), warn: round(weights.warn), pass: round(weights.pass), info: round(weights.info) },
      attestations: items,
    };
    if (status === 'disputed') {
      const side = (verdict: ModelVerdict) => counted.filter((item) => item.verdict === verdict).map((item) => ({ issuer: item.issuer, weight: item.weight ?? 0, id: item.id }));
      disputes.push({ kind: group, fail: side('fail'), pass: side('pass') });
    }
    if (GROUP_ORDER[status] > GROUP_ORDER[overall]) {
      overall = status;
      const lead = status === 'ok' ? 'pass' : status === 'caution' ? (weights.warn >= weights.fail ? 'warn' : 'fail') : 'fail';
      decisive = { group, status, item: counted.filter((item) => item.verdict === lead).sort((x, y) => (y.weight ?? 0) - (x.weight ?? 0))[0] };
    }
  }
  const reachedCount = trust.reachedCount;
  return {
    digest: `sha256:${digest}`,
    asOf: new Date(now).toISOString(),
    status: overall,
    reason: reasonOf(overall, decisive, byPredicate, untrusted, reachedCount),
    trustedIssuers: reachedCount,
    byPredicate,
    disputes,
    equivocators: [...equivocators].sort(),
    untrusted,
    ...(opts.without === undefined ? {} : { without: opts.without }),
  };
}

/** An issuer whose endorsement changes wait (stored, not yet in the trust graph: SPEC §14.8). */
export interface DeferredInput {
  readonly issuer: string;
  readonly changes: number;
  /** epoch ms */
  readonly until: number;
}

/**
 * A view that says what the trust graph it was computed from does not yet reflect: the
 * issuers whose endorsement changes wait, listed, and the one with most named in the reason.
 */
export function withDeferred<V extends ReputationView>(view: V, deferred: readonly DeferredInput[], notes: Pick<TrustLookup, 'noteOf'>): V {
  if (deferred.length === 0) return view;
  const top = deferred.reduce((best, next) => (next.changes > best.changes ? next : best));
  const others = deferred.length > 1 ? ` and ${deferred.length - 1} other issuer(s)` : '';
  const name = notes.noteOf(top.issuer) ?? shortName(top.issuer);
  return {
    ...view,
    reason: `${view.reason} Your trust graph does not yet reflect ${top.changes} endorsement change(s) by ${name}${others} (over their budget; applied by ${new Date(top.until).toISOString()}).`,
    deferredEndorsements: deferred.map((deferral) => ({ issuer: deferral.issuer, changes: deferral.changes, until: new Date(deferral.until).toISOString() })),
  };
}

function shortName(did: string): string {
  return did.length > 30 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
}

function nameOf(item: EvidenceItem): string {
  return item.issuerNote ?? shortName(item.issuer);
}

/** The one-sentence reason of a status. */
function reasonOf(
  status: Status,
  decisive: { group: string; status: Status; item: EvidenceItem | undefined } | undefined,
  byPredicate: Record<string, PredicateSummary>,
  untrusted: { listed: number; fail: number; warn: number; pass: number },
  reached: number,
): string {
  if (status === 'unknown' || decisive === undefined) {
    const others = untrusted.listed > 0 ? ` ${untrusted.listed} listed attestation(s) from issuers you do not trust for their kind (${untrusted.fail} fail, ${untrusted.warn} warn, ${untrusted.pass} pass) do not count; trust an issuer with \`chorus trust add\`.` : '';
    return reached === 0 ? `nothing counts: you trust no issuer yet.${others}` : `no issuer you trust has a verdict on this model.${others}`;
  }
  const summary = byPredicate[decisive.group] as PredicateSummary;
  if (status === 'disputed') return `disputed: issuers you trust disagree on ${decisive.group} (fail weight ${summary.weights.fail}, pass weight ${summary.weights.pass}).`;
  const item = decisive.item;
  const what = item === undefined ? decisive.group : `${decisive.group} ${item.verdict} by ${nameOf(item)} (weight ${item.weight ?? 0})${item.inherited ? `, inherited from ${item.inherited.from} (${item.inherited.relation})` : ''}`;
  const countedNote = summary.counted > 1 ? `; ${summary.counted} counted` : '';
  return `${status}: ${what}${countedNote}.`;
}
