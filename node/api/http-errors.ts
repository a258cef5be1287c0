import type { ErrorCode } from '../../src/errors.js';

/** The HTTP status for each error code (README, "HTTP API"). */
export function statusOf(code: ErrorCode | string): number {
  switch (code) {
    case 'malformed_json':
    case 'bad_input':
      return 400;
    case 'unauthorized':
      return 401;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'rate_limited':
      return 429;
    case 'forbidden_host':
      return 421;
    case 'io_error':
      return 500;
    case 'storage_full':
      return 507;
    case 'unavailable':
    case 'store_locked':
      return 503;
    default:
      return 422; // an attestation that was rejected or not stored
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}
