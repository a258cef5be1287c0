import { ChorusError } from '../errors.js';

/**
 * Reads a model digest as users type it: `sha256:<hex>` or bare hex, either case.
 * Returns the 64 lowercase hex characters.
 */
export function parseDigest(text: string): string {
  const bare = text.trim().replace(/^sha256:/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(bare)) {
    throw new ChorusError('bad_input', `not a sha256 digest: "${text.slice(0, 80)}" (expected sha256:<64 hex> or 64 hex characters)`);
  }
  return bare.toLowerCase();
}

/** True when the text looks like a digest rather than a path. */
export function looksLikeDigest(text: string): boolean {
  return /^(sha256:)?[0-9a-fA-F]{64}$/i.test(text.trim());
}
