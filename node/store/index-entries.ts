import type { LineagePredicate, PredicateKind } from '../../src/statement/predicates.js';
import { hex32, indexValue, key, P, u64 } from './keys.js';

/** What the indexes of one stored attestation are made from. */
export interface IndexFacts {
  readonly id: string;
  readonly seq: number;
  readonly subjects: readonly string[];
  readonly issuerKey: Uint8Array;
  /** epoch ms */
  readonly issuedAt: number;
  /** epoch ms; a retraction's is ignored (retractions do not expire, SPEC §9) */
  readonly expiresAt: number | undefined;
  /** For a retraction: the id it withdraws. */
  readonly retracts: string | undefined;
  /** Bytes of the canonical envelope (kept in the issuer index: eviction reads no record). */
  readonly bytes: number;
  /** An endorsement: indexed by endorser for the trust graph. */
  readonly endorsement: boolean;
  /** A lineage claim: the base models it names (indexed to find the models derived from one). */
  readonly bases: readonly string[];
}

/**
 * Every index key of one attestation: the same list is written when it is stored and
 * deleted when it is evicted or collected, so the two can never disagree.
 */
export function indexKeys(f: IndexFacts): { key: Buffer; value: Buffer }[] {
  const id = hex32(f.id);
  const s = u64(f.seq);
  const issuerKey = Buffer.from(f.issuerKey);
  const empty = Buffer.alloc(0);
  const out: { key: Buffer; value: Buffer }[] = [];
  for (const d of f.subjects) {
    out.push({ key: key(P.subject, hex32(d), s), value: id });
    out.push({ key: key(P.subjectIssuer, hex32(d), issuerKey, s), value: id });
  }
  out.push({ key: key(P.issuer, issuerKey, s), value: indexValue.encodeIssuer(id, f.bytes) });
  out.push({ key: key(P.seq, s), value: id });
  out.push({ key: key(P.time, u64(Math.floor(f.issuedAt / 1000)), id), value: empty });
  if (f.expiresAt !== undefined && f.retracts === undefined) out.push({ key: key(P.expiry, u64(Math.floor(f.expiresAt / 1000)), id), value: empty });
  if (f.endorsement) out.push({ key: key(P.endorsement, issuerKey, s), value: id });
  for (const b of f.bases) out.push({ key: key(P.derived, hex32(b), s), value: id });
  if (f.retracts !== undefined) out.push({ key: key(P.retraction, hex32(f.retracts), id), value: empty });
  return out;
}

/** The distinct base-model digests a lineage claim names (none for other kinds). */
export function lineageBases(a: { kind: PredicateKind | undefined; statement: { predicate: unknown } }): string[] {
  if (a.kind !== 'lineage') return [];
  return [...new Set((a.statement.predicate as LineagePredicate).derivedFrom.map((d) => d.digest.sha256))];
}
