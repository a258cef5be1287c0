import type { ErrorCode } from '../../src/errors.js';

/** The CLI's exit codes (README, "Exit codes"). Scripts may rely on them. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  flagged: 3,
  notFound: 4,
  rejected: 5,
  notInitialized: 6,
  storeBusy: 7,
  storeDamaged: 8,
} as const;

export function exitCodeOf(code: ErrorCode): number {
  switch (code) {
    case 'not_found':
      return EXIT.notFound;
    case 'not_initialized':
      return EXIT.notInitialized;
    case 'store_locked':
      return EXIT.storeBusy;
    case 'io_error':
    case 'storage_full':
    case 'forbidden_host': // a node that refuses the name it was reached under
    case 'unavailable': // no node running, or a peer that cannot be reached
      return EXIT.error;
    case 'bad_input':
    case 'already_initialized':
      return EXIT.usage;
    default:
      return EXIT.rejected;
  }
}
