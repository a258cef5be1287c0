import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { VerifyPool } from '../../node/crypto/verify-pool.js';

/*
 * Signature checks on worker threads (issue 24): the same verdict as on the main thread for
 * every input, batched; a worker stopped with checks in hand answers them here, never leaves
 * them hanging and never says "valid" for what it did not check.
 */

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
const other = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12));

function cases(n: number): { sig: Uint8Array; msg: Uint8Array; key: Uint8Array; valid: boolean }[] {
  return Array.from({ length: n }, (_, i) => {
    const msg = new Uint8Array(Buffer.from(`statement ${i} ${'x'.repeat(i % 900)}`));
    const sig = new Uint8Array(sign(null, msg, privateKey));
    switch (i % 4) {
      case 0: return { sig, msg, key: raw, valid: true };
      case 1: { const bad = sig.slice(); bad[i % 64]! ^= 1; return { sig: bad, msg, key: raw, valid: false }; }
      case 2: return { sig, msg, key: other, valid: false };
      default: { const changed = msg.slice(); changed[0]! ^= 1; return { sig, msg: changed, key: raw, valid: false }; }
    }
  });
}

describe('signature checks on worker threads', () => {
  it('gives the main thread\'s verdict for valid signatures, flipped bits, other keys and changed messages, in batches', async () => {
    const here = nativeSuite().verify;
    const pool = new VerifyPool(here, 2);
    try {
      const all = cases(300);
      const verdicts = await Promise.all(all.map((c) => pool.verify(c.sig, c.msg, c.key)));
      expect(verdicts).toEqual(all.map((c) => c.valid));
      expect(verdicts.filter(Boolean)).toHaveLength(75);
    } finally {
      await pool.close();
    }
  });

  it('a pool stopped with checks in hand answers each on this thread, with the same verdicts', async () => {
    let checkedHere = 0;
    const here = (sig: Uint8Array, msg: Uint8Array, key: Uint8Array): boolean => {
      checkedHere++;
      return nativeSuite().verify(sig, msg, key);
    };
    const pool = new VerifyPool(here, 2);
    const all = cases(400);
    const pending = all.map((c) => pool.verify(c.sig, c.msg, c.key));
    await Promise.resolve(); // the batches are sent
    await pool.close();
    expect(await Promise.all(pending)).toEqual(all.map((c) => c.valid));
    expect(checkedHere).toBeGreaterThan(0);
  });

  it('the node\'s suite checks through the pool and rejects a non-canonical signature before it', async () => {
    const suite = nativeSuite();
    const [good] = cases(1);
    expect(await suite.verifyAsync!(good!.sig, good!.msg, good!.key)).toBe(true);
    const big = good!.sig.slice();
    big.fill(0xff, 32); // s >= L: refused by the precheck (SPEC §5), whatever OpenSSL would say
    expect(await suite.verifyAsync!(big, good!.msg, good!.key)).toBe(false);
  });
});
