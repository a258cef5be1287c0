import { createHash } from 'node:crypto';

/** Endorsements of an issuer are about sha256(UTF-8 of its did) by convention (SPEC §9). */
export function endorsementSubject(did: string): string {
  return createHash('sha256').update(did, 'utf8').digest('hex');
}
