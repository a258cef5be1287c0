import { concatBytes, utf8 } from '../encoding/bytes.js';

/** The payload type of every Chorus envelope: an in-toto Statement in JSON. */
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * DSSE v1 Pre-Authentication Encoding:
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN is the ASCII decimal
 * length in bytes (not characters) and SP is one space.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8.encode(payloadType);
  const head = utf8.encode(`DSSEv1 ${type.length} `);
  const mid = utf8.encode(` ${payload.length} `);
  return concatBytes(head, type, mid, payload);
}
