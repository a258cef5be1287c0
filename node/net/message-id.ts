import { createHash } from 'node:crypto';
import { pae } from '../../src/dsse/pae.js';
import { decodeBase64 } from '../../src/encoding/bytes.js';

/**
 * The message id gossip dedupes by: the attestation id (sha256 of PAE) when the data is an
 * envelope, so the same attestation published by two nodes is one message.
 */
export function attestationMessageId(data: Uint8Array): Uint8Array {
  try {
    const env = JSON.parse(new TextDecoder().decode(data)) as { payloadType?: unknown; payload?: unknown };
    const payload = typeof env.payload === 'string' ? decodeBase64(env.payload) : undefined;
    if (typeof env.payloadType === 'string' && payload !== undefined) {
      // The same bytes the attestation id is the hash of (SPEC §7).
      return createHash('sha256').update(pae(env.payloadType, payload)).digest();
    }
  } catch {
    // not an envelope: fall through to a content hash
  }
  return createHash('sha256').update(data).digest();
}
