/**
 * Every failure Chorus reports carries one of these codes. The same code reaches the
 * ingest decision, the CLI (message + exit code) and, later, the HTTP API and gossip.
 */
export const ERROR_CODES = [
  // decoding
  'too_large',
  'malformed_json',
  'malformed_envelope',
  'bad_base64',
  'bad_payload_type',
  'malformed_statement',
  'unknown_statement_type',
  'bad_subject_digest',
  'bad_predicate',
  // identity and signature
  'bad_issuer',
  'keyid_mismatch',
  'bad_signature',
  // semantic
  'duplicate',
  'expired',
  'future_dated',
  'bad_expiry',
  'retraction_not_owner',
  'retraction_bad_target',
  'issuer_quota',
  'stranger_budget',
  // not about attestations
  'not_found',
  'bad_input',
  'io_error',
  'store_locked',
  'not_initialized',
  'already_initialized',
  // issuer logs: an equivocation proof whose two checkpoints are consistent
  'not_equivocation',
  // HTTP API
  'unauthorized',
  'rate_limited',
  'unsupported_media_type',
  'conflict',
  'unavailable',
  'storage_full',
  'forbidden_host',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure with a stable machine-readable code and optional typed details. */
export class ChorusError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.details = details;
  }
}

/** True when `e` is a ChorusError (optionally with the given code). */
export function isChorusError(e: unknown, code?: ErrorCode): e is ChorusError {
  return e instanceof ChorusError && (code === undefined || e.code === code);
}
