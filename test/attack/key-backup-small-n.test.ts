// Attack review: a backup file whose header asks for scrypt N=2 passes parseKeyBackup, but
// deriveKey's maxmem (2·128·N·r·p) is below what OpenSSL needs for N=2 (128·r·(N+p+2)), so
// node:crypto throws a RangeError: `chorus key import` prints "unexpected error" and a stack.
// Expected: either the header check refuses the file, or decryption fails as a ChorusError.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptKeyBackup, encryptKeyBackup, parseKeyBackup, type NodeKeys } from '../../node/home/key-backup.js';
import { publicKeyOf } from '../../src/crypto/reference-suite.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { isChorusError } from '../../src/errors.js';

function keys(): NodeKeys {
  const secretKey = new Uint8Array(randomBytes(32));
  const publicKey = publicKeyOf(secretKey);
  return { identity: { did: didKeyFromPublicKey(publicKey), publicKey, secretKey }, peerKey: undefined };
}

describe('a key backup asking for the smallest scrypt N', () => {
  it('is refused as a ChorusError, never a bare RangeError', async () => {
    const text = JSON.parse(await encryptKeyBackup(keys(), 'correct horse battery', { N: 2 ** 10, r: 8, p: 1 })) as { kdf: { N: number; r: number } };
    text.kdf.N = 2;
    text.kdf.r = 1;
    let failure: unknown;
    try {
      await decryptKeyBackup(parseKeyBackup(JSON.stringify(text)), 'correct horse battery');
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeDefined();
    expect(isChorusError(failure), String(failure)).toBe(true);
  });
});
