/**
 * The byte-level rules of Chorus' strict Ed25519 verification (SPEC.md, "Signatures").
 * Both verifiers — the portable reference and the node's native one — apply these first,
 * then the cofactorless equation [S]B = R + [k]A, so they agree on every input.
 */

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/**
 * y-coordinates (little-endian, sign bit cleared) of the eight points of small order:
 * 1 (identity), p-1 (order 2), 0 (order 4), and ±c (order 8).
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
].map((h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16)));

/** True when the little-endian 32-byte scalar is < L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i] as number;
    const b = L_LE[i] as number;
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // equal to L
}

/** True when the encoded y (sign bit ignored) is < p = 2^255 - 19. */
export function isCanonicalFieldElement(enc: Uint8Array): boolean {
  if (((enc[31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (enc[i] !== 0xff) return true;
  return (enc[0] as number) < 0xed;
}

/** True when the encoding names one of the eight small-order points (any sign bit). */
export function isSmallOrderEncoding(enc: Uint8Array): boolean {
  outer: for (const y of SMALL_ORDER_Y) {
    for (let i = 0; i < 31; i++) if (enc[i] !== y[i]) continue outer;
    if (((enc[31] as number) & 0x7f) === y[31]) return true;
  }
  return false;
}

/**
 * The checks made before the group equation. Returns a reason when the input must be
 * rejected, undefined when the equation decides.
 */
export function precheck(signature: Uint8Array, publicKey: Uint8Array): string | undefined {
  if (publicKey.length !== 32) return 'public key is not 32 bytes';
  if (signature.length !== 64) return 'signature is not 64 bytes';
  if (!isCanonicalFieldElement(publicKey)) return 'public key encoding is not canonical';
  if (isSmallOrderEncoding(publicKey)) return 'public key has small order';
  const r = signature.subarray(0, 32);
  if (!isCanonicalFieldElement(r)) return 'R encoding is not canonical';
  if (isSmallOrderEncoding(r)) return 'R has small order';
  if (!isCanonicalScalar(signature.subarray(32, 64))) return 'S is not reduced mod L';
  return undefined;
}
