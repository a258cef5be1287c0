import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { referenceSuite, sign, publicKeyOf } from '../../src/crypto/reference-suite.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { makeIssuer } from '../support/fixtures.js';

describe('reference and native Ed25519 give the same verdict', () => {
  const native = nativeSuite();

  it('on 2,000 random single-byte mutations of valid signatures, keys and messages', () => {
    let agreedValid = 0;
    let agreedInvalid = 0;
    for (let i = 0; i < 2000; i++) {
      const secret = randomBytes(32);
      const pub = publicKeyOf(secret);
      const msg = randomBytes(1 + (i % 300));
      const sig = sign(msg, secret);
      const target = [sig, pub, msg][i % 3] as Uint8Array;
      if (i % 10 !== 0) target[i % target.length] = ((target[i % target.length] as number) + 1 + (i % 255)) & 0xff;
      const a = referenceSuite.verify(sig, msg, pub);
      const b = native.verify(sig, msg, pub);
      expect(b).toBe(a);
      if (a) agreedValid++;
      else agreedInvalid++;
    }
    // Untouched cases (every 10th) verify; mutated ones do not.
    expect(agreedValid).toBe(200);
    expect(agreedInvalid).toBe(1800);
  });

  it('the native signer produces signatures the reference accepts (same bytes: Ed25519 is deterministic)', () => {
    const issuer = makeIssuer();
    const msg = new TextEncoder().encode('deterministic');
    expect(Buffer.from(issuer.sign(msg))).toEqual(Buffer.from(sign(msg, issuer.secretKey)));
    expect(referenceSuite.verify(issuer.sign(msg), msg, issuer.publicKey)).toBe(true);
  });
});
