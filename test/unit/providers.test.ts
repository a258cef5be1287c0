import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { base32 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { subjectKey } from '../../node/net/providers.js';

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
