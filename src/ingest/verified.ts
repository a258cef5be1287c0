import type { PredicateKind } from '../statement/predicates.js';
import type { Envelope, Statement } from '../statement/statement.js';
import type { DidKey } from '../identity/did-key.js';

export declare const verifiedBrand: unique symbol;

/**
 * An attestation whose envelope parsed, whose statement matched its schema and whose
 * signature verified. Only the signature check makes one (`verifyParsed`, and
 * `verifyEnvelope` through it, in verify-envelope.ts), so code that takes this type cannot
 * be handed unchecked data.
 */
export interface VerifiedAttestation {
  readonly [verifiedBrand]: true;
  /** sha256 of PAE(payloadType, payload), lowercase hex. */
  readonly id: string;
  /** The envelope in canonical form (standard base64). */
  readonly envelope: Envelope;
  /** JSON bytes of the canonical envelope: what the store keeps. */
  readonly envelopeBytes: Uint8Array;
  readonly statement: Statement;
  /** The Chorus predicate kind, or undefined for a type this node does not know. */
  readonly kind: PredicateKind | undefined;
  readonly issuer: DidKey;
  readonly issuerKey: Uint8Array;
  /** issuedAt as epoch milliseconds. */
  readonly issuedAt: number;
  /** expiresAt as epoch milliseconds, when present. */
  readonly expiresAt: number | undefined;
  /** Subject sha256 digests, lowercase hex, de-duplicated. */
  readonly subjects: readonly string[];
}
