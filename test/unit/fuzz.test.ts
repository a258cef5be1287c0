import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import { verifyEnvelope } from '../../src/ingest/verify-envelope.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { verifyStore } from '../../node/store/verify-store.js';
import { makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { prng, prngBytes, prngHex, testSeed } from '../support/prng.js';

/** The seed: fixed, or CHORUS_FUZZ_SEED to replay a failure (every byte below derives from it). */
const SEED = testSeed('CHORUS_FUZZ_SEED', 20261122, 'fuzz');

const JUNK = ['', 'null', '[]', '{}', '"x"', '1e999', '-0', 'true', '{"a":', '\u0000', '\ud800', 'A'.repeat(300), 'did:key:z6Mk', '=='];

/** One mutation of a valid envelope line, of a kind chosen by the PRNG. */
function mutate(line: string, other: TestIssuer, r: () => number): string | Uint8Array {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const env = JSON.parse(line) as { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] };
  const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Record<string, unknown> & { predicate: Record<string, unknown> };
  const reencode = (p: unknown): string => JSON.stringify({ ...env, payload: Buffer.from(typeof p === 'string' ? p : JSON.stringify(p)).toString('base64') });
  switch (Math.floor(r() * 12)) {
    case 0: { // flip a byte anywhere in the text
      const b = Buffer.from(line);
      const i = Math.floor(r() * b.length);
      b[i] = (b[i] as number) ^ (1 + Math.floor(r() * 255));
      return new Uint8Array(b);
    }
    case 1: // truncate
      return line.slice(0, Math.floor(r() * line.length));
    case 2: { // flip a bit of the signature
      const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
      const i = Math.floor(r() * sig.length);
      sig[i] = (sig[i] as number) ^ (1 << Math.floor(r() * 8));
      return JSON.stringify({ ...env, signatures: [{ ...env.signatures[0], sig: sig.toString('base64') }] });
    }
    case 3: { // change a field inside the signed payload (signature no longer matches)
      payload['predicate'] = { ...payload['predicate'], verdict: pick(['pass', 'fail', 'maybe', 3, null]) };
      return reencode(payload);
    }
    case 4: // replace a top-level envelope field with junk
      return JSON.stringify({ ...env, [pick(['payloadType', 'payload', 'signatures', 'extra'])]: JSON.parse(pick(['null', '[]', '{}', '"x"', '1', 'true'])) });
    case 5: // keyid of another issuer
      return JSON.stringify({ ...env, signatures: [{ keyid: other.did, sig: env.signatures[0]!.sig }] });
    case 6: // payload replaced by junk JSON or non-JSON
      return reencode(pick(JUNK));
    case 7: { // delete a statement field
      const k = pick(['_type', 'subject', 'predicateType', 'predicate']);
      delete payload[k];
      return reencode(payload);
    }
    case 8: // random bytes
      return prngBytes(r, Math.floor(r() * 2000));
    case 9: // deep nesting
      return '['.repeat(5000) + ']'.repeat(5000);
    case 10: // oversized
      return line + ' '.repeat(DEFAULT_LIMITS.maxEnvelopeBytes);
    default: { // subject digest junk
      payload['subject'] = [{ name: 'x', digest: { sha256: pick(['', 'ABC', 'z'.repeat(64), 'a'.repeat(63), 42]) } }];
      return reencode(payload);
    }
  }
}

describe('fuzzed envelopes', () => {
  it(`10,000 mutations of valid envelopes (seed ${SEED}): each a typed decision, none stored, no crash`, async () => {
    await using dir = await tempDir();
    const store = await AttestationStore.open(dir.path);
    try {
      const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS });
      // Keys, subjects, dates and mutations all derive from SEED: the same seed gives the same 10,000 inputs.
      const r = prng(SEED);
      const issuers = Array.from({ length: 20 }, () => makeIssuer(prngBytes(r, 32)));
      const issuedAt = new Date(Date.UTC(2025, 0, 1) + Math.floor(r() * 86_400_000));
      const originals = Array.from({ length: 200 }, (_, i) => makeEnvelopeLine(issuers[i % 20]!, { subjects: [prngHex(r, 32)], issuedAt }));
      const inputs = Array.from({ length: 10_000 }, (_, i) => mutate(originals[i % originals.length]!, issuers[(i + 1) % 20]!, r));
      const decisions = await ingestor.ingestMany(inputs);

      expect(decisions).toHaveLength(10_000);
      const codes = new Set<string>(ERROR_CODES);
      for (const d of decisions) {
        if (d.outcome !== 'accept') expect(codes.has(d.code)).toBe(true);
      }
      // A mutation can only be accepted if it left the signed bytes intact (for example a
      // flipped byte in the keyid that made it no longer parse is rejected, but a change
      // the ingest path normalises away is fine): then its id is one of the originals'.
      const originalIds = new Set(originals.map((o) => verifyEnvelope(o, nativeSuite(), DEFAULT_LIMITS).id));
      const accepted = decisions.filter((d) => d.outcome === 'accept');
      for (const d of accepted) expect(originalIds.has(d.id)).toBe(true);
      expect(store.size).toBe(accepted.length);
      const rejected = decisions.filter((d) => d.outcome === 'reject').length;
      expect(rejected).toBeGreaterThan(9_000);
      expect((await verifyStore(store, nativeSuite())).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
