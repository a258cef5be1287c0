/** Protocol limits (SPEC.md, "Limits"). A node may tighten them, never loosen the size cap. */
export interface Limits {
  /** Largest envelope accepted, in bytes of its JSON. */
  readonly maxEnvelopeBytes: number;
  /** How far issuedAt may lie in the future of the receiver's clock. */
  readonly maxClockSkewMs: number;
  /** Bytes of envelopes stored per issuer before further ones are ignored. */
  readonly issuerQuotaBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxEnvelopeBytes: 64 * 1024,
  maxClockSkewMs: 10 * 60 * 1000,
  issuerQuotaBytes: 64 * 1024 * 1024,
};
