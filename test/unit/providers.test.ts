import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { base32 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { EXTRA_PROVIDERS, subjectKey, volunteers } from '../../node/net/providers.js';

/** The DHT key of SPEC §13.4, built by hand: CIDv1 ‖ raw ‖ sha2-256 ‖ 32 ‖ hash, base32 lower with prefix b. */
function byHand(digest: string): string {
  const h = createHash('sha256').update(`chorus/subject/1:${digest}`).digest();
  const bytes = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), h]);
  return `b${base32.encode(bytes).replace(/=+$/, '').toLowerCase()}`;
}

describe('provider record key for a subject digest (SPEC §13.4)', () => {
  it('is the raw CIDv1 of sha256("chorus/subject/1:" + digest), not of the digest itself', () => {
    for (const d of ['0'.repeat(64), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']) {
      expect(subjectKey(d).toString()).toBe(byHand(d));
      // The model file's own raw CID would be a different key: a Chorus record never claims the bytes.
      expect(subjectKey(d).multihash.digest).not.toEqual(Buffer.from(d, 'hex'));
    }
  });

  it('matches the worked example in the spec', () => {
    const spec = readFileSync(new URL('../../protocol/SPEC.md', import.meta.url), 'utf8');
    const m = /key of the all-zero digest is `(b[a-z2-7]+)`/.exec(spec);
    expect(m?.[1]).toBe(subjectKey('0'.repeat(64)).toString());
  });
});

describe('which nodes announce a digest that reached them from the network', () => {
  const digests = Array.from({ length: 2000 }, (_, i) => createHash('sha256').update(`d${i}`).digest('hex'));
  const peers = Array.from({ length: 20 }, (_, i) => `12D3KooPeer${i}`);

  it('in a small network every node does', () => {
    for (const n of [1, 2, EXTRA_PROVIDERS]) expect(digests.every((d) => volunteers(peers[0]!, d, n))).toBe(true);
  });

  it(`in a network of 20, about ${EXTRA_PROVIDERS} nodes per digest, the same on every call`, () => {
    const perDigest = digests.map((d) => peers.filter((p) => volunteers(p, d, 20)).length);
    const mean = perDigest.reduce((a, b) => a + b, 0) / digests.length;
    expect(mean).toBeGreaterThan(EXTRA_PROVIDERS * 0.85);
    expect(mean).toBeLessThan(EXTRA_PROVIDERS * 1.15);
    expect(digests.map((d) => peers.filter((p) => volunteers(p, d, 20)).length)).toEqual(perDigest);
  });

  it('different nodes volunteer for different digests (no node carries them all)', () => {
    const shares = peers.map((p) => digests.filter((d) => volunteers(p, d, 20)).length / digests.length);
    for (const s of shares) expect(s).toBeLessThan(0.25);
  });
});
