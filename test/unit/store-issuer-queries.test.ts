import { describe, expect, it } from 'vitest';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { isChorusError } from '../../src/errors.js';
import { makeIssuer, randomDigest } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';

/*
 * One answer to one mistake (issue 23): a store query by something that is not an Ed25519
 * did:key is `bad_input` whichever issuer index it asks — never an empty answer from some,
 * which reads as "this issuer said nothing".
 */
describe('store queries by issuer', () => {
  it('a bad did is bad_input for every issuer query; a good did with nothing stored is an empty answer', async () => {
    await using dir = await tempDir();
    const store = await AttestationStore.open(dir.path);
    try {
      const digest = randomDigest();
      const bad = 'did:key:not-a-key';
      const queries: [string, (did: string) => Promise<unknown>][] = [
        ['byIssuer', (did) => store.byIssuer(did)],
        ['bySubjectIssuer', (did) => store.bySubjectIssuer(digest, did)],
        ['newestBySubjectIssuer', (did) => store.newestBySubjectIssuer(digest, did, 10)],
        ['endorsementsBy', (did) => store.endorsementsBy(did, 10)],
        ['oldestOf', (did) => store.oldestOf(did, 10)],
      ];
      for (const [name, q] of queries) {
        const e = await q(bad).then(() => undefined, (x: unknown) => x);
        expect(isChorusError(e) && e.code, name).toBe('bad_input');
        const empty = await q(makeIssuer().did);
        expect(Array.isArray(empty) ? empty : (empty as { items: unknown[] }).items, name).toEqual([]);
      }
    } finally {
      await store.close();
    }
  });
});
