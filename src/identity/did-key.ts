import { base58 } from '@scure/base';

/** multicodec varint for ed25519-pub (0xed) */
const ED25519_PUB_PREFIX = Uint8Array.of(0xed, 0x01);
const DID_KEY_PREFIX = 'did:key:z';

/** A did:key string for an Ed25519 key, e.g. `did:key:z6Mk…`. */
export type DidKey = `did:key:z${string}`;

/** Encodes a 32-byte Ed25519 public key as a did:key. */
export function didKeyFromPublicKey(publicKey: Uint8Array): DidKey {
  if (publicKey.length !== 32) throw new RangeError('Ed25519 public key must be 32 bytes');
  const bytes = new Uint8Array(34);
  bytes.set(ED25519_PUB_PREFIX, 0);
  bytes.set(publicKey, 2);
  return `${DID_KEY_PREFIX}${base58.encode(bytes)}` as DidKey;
}

/**
 * Decodes an Ed25519 did:key to its 32-byte public key; undefined when the string is
 * not exactly that (other key types, bad base58, wrong length, trailing fragment).
 */
export function publicKeyFromDidKey(did: string): Uint8Array | undefined {
  const cached = decoded.get(did);
  if (cached !== undefined) return cached;
  const key = decode(did);
  if (key !== undefined) {
    if (decoded.size >= CACHE_SIZE) decoded.delete(decoded.keys().next().value as string);
    decoded.set(did, key);
  }
  return key;
}

// Issuers repeat: decoding (base58 and the canonical re-encode) is worth remembering.
const CACHE_SIZE = 4096;
const decoded = new Map<string, Uint8Array>();

function decode(did: string): Uint8Array | undefined {
  if (!did.startsWith(DID_KEY_PREFIX) || did.length > 64) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(did.slice(DID_KEY_PREFIX.length));
  } catch {
    return undefined;
  }
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) return undefined;
  const key = bytes.slice(2);
  // base58 is not unique for leading zeros; insist on the canonical form.
  if (didKeyFromPublicKey(key) !== did) return undefined;
  return key;
}
