import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../encoding/bytes.js';

/** Endorsements of an issuer are about sha256(UTF-8 of its did), hex, by convention (SPEC §9). */
export function endorsementSubject(did: string): string {
  return toHex(sha256(utf8.encode(did)));
}
