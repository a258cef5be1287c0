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
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
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
export function ownWords(a: EvidenceItem): string {
  const p = a.predicate as Record<string, unknown>;
  const kind = a.predicateType.split('/').at(-2);
  const parts: string[] = [];
  if (kind === 'audit') {
    const h = p['harness'] as { name?: string; version?: string } | undefined;
    if (h) parts.push(`${h.name}@${h.version}`);
    const m = Object.entries((p['metrics'] as Record<string, number> | undefined) ?? {}).slice(0, 4).map(([k, v]) => `${k}=${v}`);
    if (m.length > 0) parts.push(m.join(' '));
    if (typeof p['summary'] === 'string') parts.push(`"${p['summary']}"`);
  } else if (kind === 'payload') {
    const f = p['finding'] as { kind?: string; path?: string; description?: string } | undefined;
    parts.push(`${f?.kind ?? '?'} (${String(p['severity'])})${f?.path ? ` in ${f.path}` : ''}`);
    if (f?.description) parts.push(`"${f.description}"`);
  } else if (kind === 'license') {
    parts.push(`declared ${String(p['declared'] ?? 'none')}, detected ${((p['detected'] as string[] | undefined) ?? []).join(', ') || 'none'}`);
  } else if (kind === 'dealignment') {
    const e = p['evidence'] as { description?: string } | undefined;
    parts.push(`${String(p['method'])} of sha256:${String((p['baseModel'] as { sha256?: string } | undefined)?.sha256 ?? '?').slice(0, 12)}…`);
    if (e?.description) parts.push(`"${e.description}"`);
  } else if (kind === 'lineage') {
    const d = (p['derivedFrom'] as { relation: string; digest: { sha256: string } }[] | undefined) ?? [];
    parts.push(d.map((x) => `${x.relation} from sha256:${x.digest.sha256.slice(0, 12)}…`).join(', '));
  } else if (kind === 'provenance') {
    const sg = p['signer'] as { identity?: string; oidcIssuer?: string; keyFingerprint?: string } | undefined;
    const who = sg?.identity !== undefined ? `${sg.identity}${sg.oidcIssuer ? ` via ${sg.oidcIssuer}` : ''}` : `key sha256:${String(sg?.keyFingerprint ?? '?').slice(0, 16)}…`;
    parts.push(`signed by ${who} (OMS, ${String(p['method'])}, ${String(p['files'])} file(s) matched)`);
  } else if (kind === 'endorsement') {
    parts.push(`endorses ${shortDid(String(p['endorsed']))} on ${((p['scope'] as string[] | undefined) ?? []).join(',')} at ${String(p['weight'])}`);
  }
  const line = clean(parts.join('  '));
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

/** One issuer's log as this node holds it (SPEC §16.4), in one line. */
export function formatLog(c: LogCompleteness): string {
  const at = c.checkpointAt === null ? '' : ` (${c.checkpointAt.slice(0, 16).replace('T', ' ')}Z)`;
  const witnessed = c.state === 'own' ? '' : `; ${c.witnesses} witness${c.witnesses === 1 ? '' : 'es'}${c.settled ? ', settled' : ''}`;
  switch (c.state) {
    case 'own': return 'log: this node\'s own (chorus log checkpoint)';
    case 'complete': return `log: complete through checkpoint ${c.verified}${at}${witnessed}`;
    case 'missing': return `log: MISSING ${c.missing} of its statements (checkpoint ${c.known}${at}; ${c.verified} leaves verified)${witnessed}`;
    case 'stale': return `log: STALE, newest checkpoint ${c.known}${at} is older than the staleness limit${witnessed}`;
    case 'unsettled': return `log: UNSETTLED, complete through checkpoint ${c.verified}${at} but not cosigned by the witness quorum${witnessed}`;
    case 'no-log': return 'log: none seen here (no checkpoint of this issuer reached this node)';
    case 'equivocated': return 'log: EQUIVOCATED, it signed two histories that cannot both be true';
  }
}

/** The reputation view as a person reads it: the verdict and its reason first, then the evidence. */
export function formatView(v: ViewWithLookup, self?: string, opts: { explain?: boolean } = {}): string {
  const lines = [`${v.status.toUpperCase()}  ${v.digest}`, clean(v.reason)];
  const l = v.lookup;
  if (l) {
    lines.push(l.outcome === 'skipped'
      ? 'not asked the network this time (asked recently without result, or busy)'
      : `asked the network: ${l.holders} node(s) hold attestations about it; ${l.accepted} new attestation(s) landed here (${l.ms} ms)`);
  }
  if (v.without) lines.push(`what-if: without ${shortDid(v.without)}`);
  // What this machine's own scan found: local, unsigned, beside the network's view.
  for (const m of v.local?.models ?? []) {
    lines.push(`ON THIS MACHINE (local inspection, unsigned; chorus scan ${v.local!.scannedAt.slice(0, 16).replace('T', ' ')}Z): ${m.inspection.toUpperCase()}  ${clean(m.path)}`);
    for (const f of m.findings.slice(0, 5)) lines.push(`  ${f.severity.padEnd(8)}  ${clean(f.kind)}  ${clean(f.path ? `${f.path}: ` : '')}${clean(f.detail).slice(0, 120)}`);
    if (m.findingsTotal > 5) lines.push(`  … ${m.findingsTotal - 5} more (chorus scan ${clean(m.path)})`);
  }
  for (const d of v.disputes) {
    const notes = new Map(Object.values(v.byPredicate).flatMap((g) => g.attestations.flatMap((i) => (i.issuerNote === undefined ? [] : [[i.issuer, i.issuerNote] as const]))));
    const side = (xs: { issuer: string; weight: number }[]) => xs.map((x) => `${notes.get(x.issuer) ?? shortDid(x.issuer)} (${x.weight})`).join(', ');
    lines.push(`dispute on ${d.kind}: FAIL ${side(d.fail)}  vs  pass ${side(d.pass)}`);
  }
  if (v.equivocators.length > 0) lines.push(`equivocating (contradictory verdicts signed at once, not counted): ${v.equivocators.map(shortDid).join(', ')}`);
  const groups = Object.entries(v.byPredicate);
  if (groups.length === 0) lines.push('', 'no attestations about this digest');
  for (const [group, s] of groups) {
    const w = s.weights;
    lines.push('', `${group}: ${s.status}   (${s.counted} counted of ${s.total}; weights fail ${w.fail}, warn ${w.warn}, pass ${w.pass})`);
    for (const a of s.attestations) {
      const verdict = (a.verdict === undefined ? undefined : MARK[a.verdict]) ?? '-';
      const why = a.counts ? `counts, weight ${a.weight}` : `does not count: ${a.reason}${a.retractedBy ? ` by ${a.retractedBy}` : ''}${a.supersededBy ? ` by ${a.supersededBy}` : ''}`;
      lines.push(`  ${verdict.padEnd(4)}  ${a.issuedAt.slice(0, 10)}  ${nameOf(a.issuer, a.issuerNote, self).padEnd(21)}  ${why}`);
      lines.push(`        ${a.id}  ${ownWords(a)}`);
      if (a.inherited) lines.push(`        inherited from ${a.inherited.from} (${a.inherited.relation}), lineage by ${shortDid(a.inherited.lineageBy)}; was ${a.inherited.originalVerdict}`);
      if (opts.explain && a.trust) {
        const path = a.trust.path.length === 0 ? `${a.trust.via} (your policy)` : a.trust.path.map((h, i) => `${i === 0 ? `${h.fromNote ?? shortDid(h.from)} ` : ''}-(${h.weight})-> ${h.to === a.issuer ? nameOf(h.to, a.issuerNote, self) : shortDid(h.to)}`).join(' ');
        lines.push(`        trust in ${a.trust.scope}: ${a.trust.trust} via ${path}`);
      }
    }
  }
  const u = v.untrusted;
  if (u.listed > 0) lines.push('', `${u.listed} listed attestation(s) from issuers you do not trust for their kind: ${u.fail} fail, ${u.warn} warn, ${u.pass} pass (they do not count)`);
  if (v.evidence && v.evidence.omitted > 0) lines.push(`${v.evidence.omitted} more attestation(s) by issuers you do not trust are not listed (chorus list --subject ${v.digest})`);
  const c = v.completeness;
  if (c) {
    lines.push('', `${c.complete ? 'COMPLETE' : 'INCOMPLETE'}: ${clean(c.summary)}`);
    for (const i of c.issuers.filter((x) => x.state !== 'complete' && x.state !== 'own').slice(0, 10)) lines.push(`  ${nameOf(i.issuer, undefined, self).padEnd(21)}  ${formatLog(i)}`);
  }
  return lines.join('\n');
}

/** One line per attestation for listings. */
export function formatRow(a: AttestationSummary): string {
  const kind = a.kind ?? a.predicateType;
  return `${String(a.seq).padStart(8)}  ${a.id}  ${kind.padEnd(11)}  ${a.issuedAt.slice(0, 19)}Z  ${a.issuer}`;
}
