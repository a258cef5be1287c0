import type { ErrorCode } from '../errors.js';
import type { PredicateKind, RetractionPredicate } from '../statement/predicates.js';
import type { CryptoSuite } from '../crypto/suite.js';
import type { Limits } from './limits.js';
import type { VerifiedAttestation } from './verified.js';

/** What the ingest path needs to know about the store; the node passes its store in. */
export interface IngestStoreView {
  has(id: string): boolean | Promise<boolean>;
  /** Issuer and kind of a stored attestation, for retraction rights. */
  lookup(id: string): { issuer: string; kind: PredicateKind | undefined } | undefined | Promise<{ issuer: string; kind: PredicateKind | undefined } | undefined>;
  /** Bytes of envelopes stored for the issuer so far. */
  issuerBytes(issuer: string): number | Promise<number>;
}

export interface IngestContext {
  readonly suite: CryptoSuite;
  readonly limits: Limits;
  /** The receiver's clock, epoch ms. */
  readonly now: number;
  readonly store: IngestStoreView;
}

/**
 * The outcome of the ingest path. `ignore` drops without blame (duplicate, expired, over
 * quota); `reject` means the input is invalid and its sender is at fault.
 */
export type Decision =
  | { readonly outcome: 'accept'; readonly code: 'accepted'; readonly id: string; readonly attestation: VerifiedAttestation }
  | { readonly outcome: 'ignore' | 'reject'; readonly code: ErrorCode; readonly message: string; readonly id?: string; readonly details?: Record<string, unknown> };

// Retraction conflicts are ignored, not rejected: a node that did not yet hold the target
// accepts and relays such a retraction in good faith, and must not be blamed for it.
const IGNORED: ReadonlySet<ErrorCode> = new Set(['duplicate', 'expired', 'future_dated', 'issuer_quota', 'stranger_budget', 'rate_limited', 'storage_full', 'retraction_not_owner', 'retraction_bad_target']);

/** The outcome class of an error code: ignore or reject. */
export function outcomeOf(code: ErrorCode): 'ignore' | 'reject' {
  return IGNORED.has(code) ? 'ignore' : 'reject';
}

/** Step 4: the semantic rules, on an attestation whose signature already verified. */
export async function checkSemantics(att: VerifiedAttestation, ctx: IngestContext): Promise<Decision> {
  const { id } = att;
  if (await ctx.store.has(id)) return { outcome: 'ignore', code: 'duplicate', message: 'already stored', id };
  // A retraction does not expire (SPEC §9): once its target is withdrawn it stays withdrawn.
  if (att.kind !== 'retraction' && att.expiresAt !== undefined && att.expiresAt <= ctx.now) {
    return { outcome: 'ignore', code: 'expired', message: `expired at ${new Date(att.expiresAt).toISOString()}`, id };
  }
  if (att.issuedAt > ctx.now + ctx.limits.maxClockSkewMs) {
    return {
      outcome: 'ignore',
      code: 'future_dated',
      message: `issuedAt ${new Date(att.issuedAt).toISOString()} is more than ${ctx.limits.maxClockSkewMs / 1000}s in the future`,
      id,
    };
  }
  if (att.kind === 'retraction') {
    const target = (att.statement.predicate as RetractionPredicate).target;
    if (target === id) return { outcome: 'ignore', code: 'retraction_bad_target', message: 'a retraction cannot target itself', id };
    const info = await ctx.store.lookup(target);
    if (info !== undefined) {
      if (info.issuer !== att.issuer) {
        return { outcome: 'ignore', code: 'retraction_not_owner', message: 'only the issuer of an attestation may retract it', id, details: { target } };
      }
      if (info.kind === 'retraction') {
        return { outcome: 'ignore', code: 'retraction_bad_target', message: 'a retraction cannot be retracted', id, details: { target } };
      }
    }
  }
  const used = await ctx.store.issuerBytes(att.issuer);
  if (used + att.envelopeBytes.length > ctx.limits.issuerQuotaBytes) {
    return {
      outcome: 'ignore',
      code: 'issuer_quota',
      message: `issuer is over its storage quota of ${ctx.limits.issuerQuotaBytes} bytes`,
      id,
      details: { used, quota: ctx.limits.issuerQuotaBytes },
    };
  }
  return { outcome: 'accept', code: 'accepted', id, attestation: att };
}
