import type { AttestationSummary, ViewWithLookup } from '../client/node-client.js';
import type { EvidenceItem, LogCompleteness } from '../../src/reputation/view-schema.js';

const MARK: Record<string, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', info: 'info' };

/**
 * Text from a file or a stranger, made safe for a terminal: control characters (escape
 * sequences that clear the screen or set the title) and bidirectional overrides are shown
 * as \u escapes instead of acting.
 */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- the point is to find them
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Shortens a did:key for tables: did:key:z6Mk…last6. */
export function shortDid(did: string): string {
  return did.length > 30 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
}

/** How a person knows an issuer: you, their trust-list note, or the shortened did. */
function nameOf(did: string, note: string | undefined, self: string | undefined): string {
  if (did === self) return 'you';
  return note === undefined ? shortDid(did) : clean(note);
}

/** The attestation's own words, in a line: summary, finding, method, licenses. */
export function ownWords(item: EvidenceItem): string {
  const predicate = item.predicate as Record<string, unknown>;
  const kind = item.predicateType.split('/').at(-2);
  const parts: string[] = [];
  if (kind === 'audit') {
    const harness = predicate['harness'] as { name?: string; version?: string } | undefined;
    if (harness) parts.push(`${harness.name}@${harness.version}`);
    const metrics = Object.entries((predicate['metrics'] as Record<string, number> | undefined) ?? {}).slice(0, 4).map(([name, value]) => `${name}=${value}`);
    if (metrics.length > 0) parts.push(metrics.join(' '));
    if (typeof predicate['summary'] === 'string') parts.push(`"${predicate['summary']}"`);
  } else if (kind === 'payload') {
    const finding = predicate['finding'] as { kind?: string; path?: string; description?: string } | undefined;
    parts.push(`${finding?.kind ?? '?'} (${String(predicate['severity'])})${finding?.path ? ` in ${finding.path}` : ''}`);
    if (finding?.description) parts.push(`"${finding.description}"`);
  } else if (kind === 'license') {
    parts.push(`declared ${String(predicate['declared'] ?? 'none')}, detected ${((predicate['detected'] as string[] | undefined) ?? []).join(', ') || 'none'}`);
  } else if (kind === 'dealignment') {
    const evidence = predicate['evidence'] as { description?: string } | undefined;
    parts.push(`${String(predicate['method'])} of sha256:${String((predicate['baseModel'] as { sha256?: string } | undefined)?.sha256 ?? '?').slice(0, 12)}…`);
    if (evidence?.description) parts.push(`"${evidence.description}"`);
  } else if (kind === 'lineage') {
    const derived = (predicate['derivedFrom'] as { relation: string; digest: { sha256: string } }[] | undefined) ?? [];
    parts.push(derived.map((parent) => `${parent.relation} from sha256:${parent.digest.sha256.slice(0, 12)}…`).join(', '));
  } else if (kind === 'provenance') {
    const sg = predicate['signer'] as { identity?: string; oidcIssuer?: string; keyFingerprint?: string } | undefined;
    const who = sg?.identity !== undefined ? `${sg.identity}${sg.oidcIssuer ? ` via ${sg.oidcIssuer}` : ''}` : `key sha256:${String(sg?.keyFingerprint ?? '?').slice(0, 16)}…`;
    parts.push(`signed by ${who} (OMS, ${String(predicate['method'])}, ${String(predicate['files'])} file(s) matched)`);
  } else if (kind === 'endorsement') {
    parts.push(`endorses ${shortDid(String(predicate['endorsed']))} on ${((predicate['scope'] as string[] | undefined) ?? []).join(',')} at ${String(predicate['weight'])}`);
  }
  const line = clean(parts.join('  '));
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

/** One issuer's log as this node holds it (SPEC §16.4), in one line. */
export function formatLog(completeness: LogCompleteness): string {
  const at = completeness.checkpointAt === null ? '' : ` (${completeness.checkpointAt.slice(0, 16).replace('T', ' ')}Z)`;
  const witnessed = completeness.state === 'own' ? '' : `; ${completeness.witnesses} witness${completeness.witnesses === 1 ? '' : 'es'}${completeness.settled ? ', settled' : ''}`;
  switch (completeness.state) {
    case 'own': return 'log: this node\'s own (chorus log checkpoint)';
    case 'complete': return `log: complete through checkpoint ${completeness.verified}${at}${witnessed}`;
    case 'missing': return `log: MISSING ${completeness.missing} of its statements (checkpoint ${completeness.known}${at}; ${completeness.verified} leaves verified)${witnessed}`;
    case 'stale': return `log: STALE, newest checkpoint ${completeness.known}${at} is older than the staleness limit${witnessed}`;
    case 'unsettled': return `log: UNSETTLED, complete through checkpoint ${completeness.verified}${at} but not cosigned by the witness quorum${witnessed}`;
    case 'no-log': return 'log: none seen here (no checkpoint of this issuer reached this node)';
    case 'equivocated': return 'log: EQUIVOCATED, it signed two histories that cannot both be true';
  }
}

/** The reputation view as a person reads it: the verdict and its reason first, then the evidence. */
export function formatView(view: ViewWithLookup, self?: string, opts: { explain?: boolean } = {}): string {
  const lines = [`${view.status.toUpperCase()}  ${view.digest}`, clean(view.reason)];
  const lookup = view.lookup;
  if (lookup) {
    lines.push(lookup.outcome === 'skipped'
      ? 'not asked the network this time (asked recently without result, or busy)'
      : `asked the network: ${lookup.holders} node(s) hold attestations about it; ${lookup.accepted} new attestation(s) landed here (${lookup.ms} ms)`);
  }
  if (view.without) lines.push(`what-if: without ${shortDid(view.without)}`);
  // What this machine's own scan found: local, unsigned, beside the network's view.
  for (const model of view.local?.models ?? []) {
    lines.push(`ON THIS MACHINE (local inspection, unsigned; chorus scan ${view.local!.scannedAt.slice(0, 16).replace('T', ' ')}Z): ${model.inspection.toUpperCase()}  ${clean(model.path)}`);
    for (const finding of model.findings.slice(0, 5)) lines.push(`  ${finding.severity.padEnd(8)}  ${clean(finding.kind)}  ${clean(finding.path ? `${finding.path}: ` : '')}${clean(finding.detail).slice(0, 120)}`);
    if (model.findingsTotal > 5) lines.push(`  … ${model.findingsTotal - 5} more (chorus scan ${clean(model.path)})`);
  }
  for (const dispute of view.disputes) {
    const notes = new Map(Object.values(view.byPredicate).flatMap((summary) => summary.attestations.flatMap((item) => (item.issuerNote === undefined ? [] : [[item.issuer, item.issuerNote] as const]))));
    const side = (xs: { issuer: string; weight: number }[]) => xs.map((entry) => `${notes.get(entry.issuer) ?? shortDid(entry.issuer)} (${entry.weight})`).join(', ');
    lines.push(`dispute on ${dispute.kind}: FAIL ${side(dispute.fail)}  vs  pass ${side(dispute.pass)}`);
  }
  if (view.equivocators.length > 0) lines.push(`equivocating (contradictory verdicts signed at once, not counted): ${view.equivocators.map(shortDid).join(', ')}`);
  const groups = Object.entries(view.byPredicate);
  if (groups.length === 0) lines.push('', 'no attestations about this digest');
  for (const [group, summary] of groups) {
    const weights = summary.weights;
    lines.push('', `${group}: ${summary.status}   (${summary.counted} counted of ${summary.total}; weights fail ${weights.fail}, warn ${weights.warn}, pass ${weights.pass})`);
    for (const item of summary.attestations) {
      const verdict = (item.verdict === undefined ? undefined : MARK[item.verdict]) ?? '-';
      const why = item.counts ? `counts, weight ${item.weight}` : `does not count: ${item.reason}${item.retractedBy ? ` by ${item.retractedBy}` : ''}${item.supersededBy ? ` by ${item.supersededBy}` : ''}`;
      lines.push(`  ${verdict.padEnd(4)}  ${item.issuedAt.slice(0, 10)}  ${nameOf(item.issuer, item.issuerNote, self).padEnd(21)}  ${why}`);
      lines.push(`        ${item.id}  ${ownWords(item)}`);
      if (item.inherited) lines.push(`        inherited from ${item.inherited.from} (${item.inherited.relation}), lineage by ${shortDid(item.inherited.lineageBy)}; was ${item.inherited.originalVerdict}`);
      if (opts.explain && item.trust) {
        const path = item.trust.path.length === 0 ? `${item.trust.via} (your policy)` : item.trust.path.map((hop, i) => `${i === 0 ? `${hop.fromNote ?? shortDid(hop.from)} ` : ''}-(${hop.weight})-> ${hop.to === item.issuer ? nameOf(hop.to, item.issuerNote, self) : shortDid(hop.to)}`).join(' ');
        lines.push(`        trust in ${item.trust.scope}: ${item.trust.trust} via ${path}`);
      }
    }
  }
  const untrusted = view.untrusted;
  if (untrusted.listed > 0) lines.push('', `${untrusted.listed} listed attestation(s) from issuers you do not trust for their kind: ${untrusted.fail} fail, ${untrusted.warn} warn, ${untrusted.pass} pass (they do not count)`);
  if (view.evidence && view.evidence.omitted > 0) lines.push(`${view.evidence.omitted} more attestation(s) by issuers you do not trust are not listed (chorus list --subject ${view.digest})`);
  const completeness = view.completeness;
  if (completeness) {
    lines.push('', `${completeness.complete ? 'COMPLETE' : 'INCOMPLETE'}: ${clean(completeness.summary)}`);
    for (const issuer of completeness.issuers.filter((candidate) => candidate.state !== 'complete' && candidate.state !== 'own').slice(0, 10)) lines.push(`  ${nameOf(issuer.issuer, undefined, self).padEnd(21)}  ${formatLog(issuer)}`);
  }
  return lines.join('\n');
}

/** One line per attestation for listings. */
export function formatRow(row: AttestationSummary): string {
  const kind = row.kind ?? row.predicateType;
  return `${String(row.seq).padStart(8)}  ${row.id}  ${kind.padEnd(11)}  ${row.issuedAt.slice(0, 19)}Z  ${row.issuer}`;
}
