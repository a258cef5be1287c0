import { z } from 'zod';

/** 64 lowercase hex characters: a SHA-256 digest. */
export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (sha256)')
  .describe('SHA-256 digest, 64 lowercase hex characters');

/** An in-toto DigestSet: sha256 is required; other algorithms may ride along. */
export const DigestSet = z
  .object({ sha256: Sha256Hex })
  .catchall(z.string().regex(/^[0-9a-f]{1,256}$/, 'digest values are lowercase hex'))
  .describe('in-toto DigestSet; Chorus requires and indexes sha256');

/** An Ed25519 did:key. Deeper decoding happens in the ingest path. */
export const DidKeyString = z
  .string()
  .regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'expected an Ed25519 did:key (did:key:z6Mk…)')
  .describe('Ed25519 did:key identifying an issuer');

/**
 * RFC 3339 UTC timestamp ending in Z, in the years 1970-9999: the store keys attestations by
 * unsigned seconds since the epoch, so an earlier time is not representable and is refused
 * here, where it fails only its own envelope.
 */
export const Timestamp = z.iso
  .datetime({ offset: false })
  .regex(/^(19[7-9]\d|[2-9]\d{3})-/, 'timestamps before 1970 are not accepted')
  .describe('RFC 3339 UTC timestamp from 1970 on, e.g. 2026-01-02T03:04:05Z');

/** An attestation id: sha256 over the signed bytes, lowercase hex. */
export const AttestationId = Sha256Hex.describe('attestation id: sha256 of PAE(payloadType, payload), hex');

/** Short free text (names, versions, notes). */
export const ShortText = z.string().min(1).max(256);
/** Longer free text (descriptions). */
export const LongText = z.string().max(4096);
/** A URI or URL reference. */
export const Uri = z.string().min(1).max(2048).regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/, 'expected a URI');

/**
 * The fields every Chorus predicate begins with. They live in the predicate, not beside
 * it, because the in-toto Statement's top level is in-toto's vocabulary, not ours.
 */
export const PredicateHeader = {
  issuer: DidKeyString,
  issuedAt: Timestamp,
  expiresAt: Timestamp.optional(),
};
