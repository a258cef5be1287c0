import type { PredicateKind, RetractionPredicate } from '../statement/predicates.js';
import type { Statement } from '../statement/statement.js';
import { scopeOf, type Scope, type TrustParams } from './policy.js';
import type { ScopedTrust } from './trust-graph.js';
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
export const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** An issuer's trust in one kind as views and the issuer page show it: rounded, with your notes on the path. */
export function issuerTrust(t: ScopedTrust, scope: Scope, notes: Pick<TrustLookup, 'noteOf'>): IssuerTrust {
  return {
    scope,
    trust: round(t.trust),
    via: t.via,
    path: t.path.map((h) => {
      const fromNote = notes.noteOf(h.from);
      return { from: h.from, to: h.to, weight: round(h.weight), ...(h.endorsement === undefined ? {} : { endorsement: h.endorsement }), ...(fromNote === undefined ? {} : { fromNote }) };
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
export function statusOfWeights(w: { fail: number; warn: number; pass: number }, p: TrustParams, onFail: 'flagged' | 'caution'): Status {
  const t = p.decideWeight;
  const { fail: f, warn: v, pass: ok } = w;
  if (f >= t && ok >= t && Math.min(f, ok) / Math.max(f, ok) >= p.disputeRatio) return 'disputed';
  if (f >= t && f >= ok) return onFail;
  if (ok >= t) return (f >= t || v >= t) && (f + v) / ok >= p.cautionRatio ? 'caution' : 'ok';
  if (f >= t || v >= t) return 'caution';
  return 'unknown';
}

/**
 * This node's reputation view of one digest (SPEC §10): every attestation grouped by kind,
 * each with why it counts or not, its weight and its trust path; per kind and overall a
 * status from weighted evidence, disputes side by side, equivocating issuers, inherited
 * findings. Pure: the caller supplies the attestations, the trust, the time.
 */
export function reputationView(digest: string, inputs: readonly ViewInput[], trust: TrustLookup, now: number, opts: ViewOptions = {}): ReputationView {
  const p = trust.params;
  // Retractions withdraw only attestations of their own issuer; they do not expire (§9).
  const retractedBy = new Map<string, string>();
  const issuerOf = new Map(inputs.map((a) => [a.id, a.issuer]));
  for (const a of inputs) {
    if (a.kind !== 'retraction') continue;
    const target = (a.statement.predicate as RetractionPredicate).target;
    if (issuerOf.get(target) === a.issuer && !retractedBy.has(target)) retractedBy.set(target, a.id);
  }

  // First pass: the reasons that do not depend on other attestations.
  type Row = { a: ViewInput; verdict: ModelVerdict | undefined; scope: Scope | undefined; reason: CountReason; t: ScopedTrust | undefined; supersededBy?: string };
  const rows: Row[] = [];
  for (const a of inputs) {
    if (a.kind === 'retraction') continue; // shown on their targets, not as a group
    const verdict = verdictOf(a.kind, a.statement.predicate as Record<string, unknown>);
    const scope = scopeOf(a.kind);
    const t = scope === undefined ? undefined : trust.trust(a.issuer, scope);
    let reason: CountReason;
    if (verdict === undefined || scope === undefined) reason = 'not-scored';
    else if (retractedBy.has(a.id)) reason = 'retracted';
    else if (a.expiresAt !== undefined && a.expiresAt <= now) reason = 'expired';
    else if (opts.without !== undefined && a.issuer === opts.without) reason = 'ignored';
    else if (trust.isBlocked(a.issuer)) reason = 'blocked';
    else if ((t?.trust ?? 0) <= 0) reason = 'untrusted';
    else if ((t?.trust ?? 0) < p.minWeight) reason = 'weak';
    else reason = 'trusted';
    rows.push({ a, verdict, scope, reason, t });
  }

  // Supersession within one issuer and kind: the newest counts. Equal times with different
  // verdicts: the issuer equivocates, and none of those count.
  const equivocators = new Set<string>();
  const byIssuerKind = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.reason !== 'trusted') continue;
    const k = `${r.a.issuer} ${r.scope}`;
    let l = byIssuerKind.get(k);
    if (!l) byIssuerKind.set(k, (l = []));
    l.push(r);
  }
  for (const list of byIssuerKind.values()) {
    if (list.length < 2) continue;
    list.sort((x, y) => y.a.issuedAt - x.a.issuedAt || (x.a.id < y.a.id ? -1 : 1));
    const newest = list[0] as Row;
    const tied = list.filter((r) => r.a.issuedAt === newest.a.issuedAt);
    if (new Set(tied.map((r) => r.verdict)).size > 1) {
      equivocators.add(newest.a.issuer);
      for (const r of tied) r.reason = 'equivocating';
    }
    // One attestation per issuer and kind counts: the newest (the first by id among equals),
    // so signing the same verdict many times weighs no more than signing it once.
    for (const r of list) {
      if (r !== newest && r.reason === 'trusted') {
        r.reason = 'superseded';
        r.supersededBy = newest.a.id;
      }
    }
  }

  const groups = new Map<string, EvidenceItem[]>();
  const add = (group: string, item: EvidenceItem): void => {
    let l = groups.get(group);
    if (!l) groups.set(group, (l = []));
    l.push(item);
  };
  const untrusted = { listed: 0, fail: 0, warn: 0, pass: 0, other: 0 };
  const sorted = [...rows].sort((x, y) => y.a.issuedAt - x.a.issuedAt || (x.a.id < y.a.id ? -1 : 1));
  for (const r of sorted) {
    const { a, t } = r;
    if (r.reason === 'untrusted' || r.reason === 'weak') {
      untrusted.listed++;
      if (r.verdict === 'fail' || r.verdict === 'warn' || r.verdict === 'pass') untrusted[r.verdict]++;
      else untrusted.other++;
    }
    const counts = r.reason === 'trusted';
    const note = trust.noteOf(a.issuer);
    add(a.kind ?? a.statement.predicateType, {
      id: a.id,
      issuer: a.issuer,
      ...(note === undefined ? {} : { issuerNote: note }),
      predicateType: a.statement.predicateType,
      issuedAt: new Date(a.issuedAt).toISOString(),
      ...(a.expiresAt === undefined ? {} : { expiresAt: new Date(a.expiresAt).toISOString() }),
      ...(r.verdict === undefined ? {} : { verdict: r.verdict }),
      counts,
      reason: r.reason,
      ...(counts && t ? { weight: round(t.trust) } : {}),
      ...(t && r.scope && t.trust > 0 ? { trust: issuerTrust(t, r.scope, trust) } : {}),
      ...(retractedBy.has(a.id) ? { retractedBy: retractedBy.get(a.id) as string } : {}),
      ...(r.supersededBy === undefined ? {} : { supersededBy: r.supersededBy }),
      predicate: a.statement.predicate as Record<string, unknown>,
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
    const counted = items.filter((i) => i.counts && i.verdict !== undefined);
    const w = { fail: 0, warn: 0, pass: 0, info: 0 };
    for (const i of counted) w[i.verdict as ModelVerdict] += i.weight ?? 0;
    const scope = scopeOf(group);
    // Lineage and provenance are information: they never decide a status.
    const informative = scope === undefined || scope === 'lineage' || scope === 'provenance';
    const onFail = informative ? 'caution' : p.severity[scope];
    const status = informative ? 'unknown' : statusOfWeights(w, p, onFail);
    byPredicate[group] = {
      status,
      summary: worst(counted.map((i) => i.verdict as ModelVerdict)) ?? 'none',
      counted: counted.length,
      total: items.length,
      weights: { fail: round(w.fail), warn: round(w.warn), pass: round(w.pass), info: round(w.info) },
      attestations: items,
    };
    if (status === 'disputed') {
      const side = (v: ModelVerdict) => counted.filter((i) => i.verdict === v).map((i) => ({ issuer: i.issuer, weight: i.weight ?? 0, id: i.id }));
      disputes.push({ kind: group, fail: side('fail'), pass: side('pass') });
    }
    if (GROUP_ORDER[status] > GROUP_ORDER[overall]) {
      overall = status;
      const lead = status === 'ok' ? 'pass' : status === 'caution' ? (w.warn >= w.fail ? 'warn' : 'fail') : 'fail';
      decisive = { group, status, item: counted.filter((i) => i.verdict === lead).sort((x, y) => (y.weight ?? 0) - (x.weight ?? 0))[0] };
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
  const top = deferred.reduce((a, b) => (b.changes > a.changes ? b : a));
  const others = deferred.length > 1 ? ` and ${deferred.length - 1} other issuer(s)` : '';
  const name = notes.noteOf(top.issuer) ?? shortName(top.issuer);
  return {
    ...view,
    reason: `${view.reason} Your trust graph does not yet reflect ${top.changes} endorsement change(s) by ${name}${others} (over their budget; applied by ${new Date(top.until).toISOString()}).`,
    deferredEndorsements: deferred.map((d) => ({ issuer: d.issuer, changes: d.changes, until: new Date(d.until).toISOString() })),
  };
}

function shortName(did: string): string {
  return did.length > 30 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
}

function nameOf(i: EvidenceItem): string {
  return i.issuerNote ?? shortName(i.issuer);
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
  const s = byPredicate[decisive.group] as PredicateSummary;
  if (status === 'disputed') return `disputed: issuers you trust disagree on ${decisive.group} (fail weight ${s.weights.fail}, pass weight ${s.weights.pass}).`;
  const i = decisive.item;
  const what = i === undefined ? decisive.group : `${decisive.group} ${i.verdict} by ${nameOf(i)} (weight ${i.weight ?? 0})${i.inherited ? `, inherited from ${i.inherited.from} (${i.inherited.relation})` : ''}`;
  const n = s.counted > 1 ? `; ${s.counted} counted` : '';
  return `${status}: ${what}${n}.`;
}
