import type { AttestationSummary, ViewWithLookup } from '../client/node-client.js';

const MARK: Record<string, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', info: 'info' };

/** Shortens a did:key for tables: did:key:z6Mk…last6. */
export function shortDid(did: string): string {
  return did.length > 30 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
}

/** The reputation view as a person reads it. */
export function formatView(v: ViewWithLookup, self?: string): string {
  const lines = [`${v.digest}`, `status: ${v.status.toUpperCase()}   (trusted issuers: ${v.trustedIssuers}, as of ${v.asOf})`];
  const l = v.lookup;
  if (l) {
    lines.push(l.outcome === 'skipped'
      ? 'not asked the network this time (asked recently without result, or busy)'
      : `asked the network: ${l.holders} node(s) hold attestations about it; ${l.accepted} new attestation(s) landed here (${l.ms} ms)`);
  }
  const groups = Object.entries(v.byPredicate);
  if (groups.length === 0) lines.push('', 'no attestations about this digest');
  for (const [group, s] of groups) {
    lines.push('', `${group}: ${s.summary === 'none' ? 'nothing counted' : MARK[s.summary]}   (${s.counted} counted of ${s.total})`);
    for (const a of s.attestations) {
      const who = a.issuer === self ? 'you' : shortDid(a.issuer);
      const verdict = (a.verdict === undefined ? undefined : MARK[a.verdict]) ?? '-';
      const why = a.counts ? 'counts' : `does not count: ${a.reason}${a.retractedBy ? ` by ${a.retractedBy.slice(0, 12)}` : ''}`;
      lines.push(`  ${verdict.padEnd(4)}  ${a.issuedAt.slice(0, 10)}  ${who.padEnd(21)}  ${a.id.slice(0, 12)}  ${why}`);
    }
  }
  return lines.join('\n');
}

/** One line per attestation for listings. */
export function formatRow(a: AttestationSummary): string {
  const kind = a.kind ?? a.predicateType;
  return `${String(a.seq).padStart(8)}  ${a.id}  ${kind.padEnd(11)}  ${a.issuedAt.slice(0, 19)}Z  ${a.issuer}`;
}
