/**
 * The cryptographic operations the core needs, passed in so the node can use native
 * code on its hot path while tests and browsers use the portable reference.
 */
export interface CryptoSuite {
  /** A short name for logs and benchmarks. */
  readonly name: string;
  /** SHA-256 of the bytes. */
  sha256(data: Uint8Array): Uint8Array;
  /** Strict Ed25519 verification as SPEC.md defines it. Never throws. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /**
   * The same verdict as `verify`, computed off the calling thread where the platform can
   * (so a node checks many signatures in parallel). Optional.
   */
  verifyAsync?(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
}
