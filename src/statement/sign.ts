import { encodeBase64, utf8 } from '../encoding/bytes.js';
import { pae, PAYLOAD_TYPE } from '../dsse/pae.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { publicKeyOf, sign } from '../crypto/reference-suite.js';
import type { Envelope, Statement } from './statement.js';

/**
 * Signs a statement into a DSSE envelope. The caller is responsible for the statement's
 * predicate.issuer naming the same key; `signStatement` checks it.
 */
export function signStatement(statement: Statement, secretKey: Uint8Array): Envelope {
  const did = didKeyFromPublicKey(publicKeyOf(secretKey));
  if (statement.predicate.issuer !== did) {
    throw new RangeError(`statement issuer ${statement.predicate.issuer} is not the signing key ${did}`);
  }
  const payload = utf8.encode(JSON.stringify(statement));
  const sig = sign(pae(PAYLOAD_TYPE, payload), secretKey);
  return { payloadType: PAYLOAD_TYPE, payload: encodeBase64(payload), signatures: [{ keyid: did, sig: encodeBase64(sig) }] };
}
