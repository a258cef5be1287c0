import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes } from '../encoding/bytes.js';
import { precheck } from './ed25519-rules.js';
import type { CryptoSuite } from './suite.js';

ed.hashes.sha512 = sha512;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}

/**
 * Strict RFC 8032 verification in portable code (@noble/ed25519 point arithmetic):
 * the shared prechecks, then the cofactorless check that encode([S]B - [k]A) equals R
 * byte for byte — the equation OpenSSL and libsodium use.
 */
export function referenceVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (precheck(signature, publicKey) !== undefined) return false;
  try {
    const A = ed.Point.fromBytes(publicKey, false);
    const r = signature.subarray(0, 32);
    const s = leToBigint(signature.subarray(32, 64));
    const k = leToBigint(sha512(concatBytes(r, publicKey, message))) % L;
    const SB = s === 0n ? ed.Point.ZERO : ed.Point.BASE.multiply(s, false);
    const kA = k === 0n ? ed.Point.ZERO : A.multiply(k, false);
    return bytesEqual(SB.subtract(kA).toBytes(), r);
  } catch {
    return false;
  }
}

/** Signs with a 32-byte Ed25519 seed (secret key). */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey);
}

/** Derives the 32-byte public key of a seed. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(secretKey);
}

/** The portable suite: @noble/hashes and @noble/ed25519, no native code. */
export const referenceSuite: CryptoSuite = {
  name: 'reference (@noble)',
  sha256: (d) => sha256(d),
  verify: referenceVerify,
};
