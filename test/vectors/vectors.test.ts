import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits } from '../../src/ingest/limits.js';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { pae } from '../../src/dsse/pae.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { rootDigest } from '../../src/digest/model-digest.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { buildVectors, expectedView, type EnvelopeCase, type Ed25519Vector, type ViewCase } from '../../node/tools/vectors.js';
import { buildSchemas } from '../../node/tools/schemas.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { tempDir } from '../support/temp-dir.js';

const read = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../protocol/${path}`, import.meta.url), 'utf8'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- vector files are JSON read at run time
const vectors = (name: string): any => read(`vectors/${name}`);
const hex = (h: string): Uint8Array => fromHex(h) as Uint8Array;
const suites: CryptoSuite[] = [referenceSuite, nativeSuite()];

describe('protocol files are generated from the code', () => {
  it.each(Object.entries(buildVectors()))('vectors/%s is up to date (npm run vectors)', (name, content) => {
    expect(vectors(name)).toEqual(JSON.parse(JSON.stringify(content)));
  });
  it.each(Object.entries(buildSchemas()))('schemas/%s is up to date (npm run schemas)', (name, content) => {
    expect(read(`schemas/${name}`)).toEqual(JSON.parse(JSON.stringify(content)));
  });
});

describe('ed25519 vectors: the reference and the native verifier agree with the spec', () => {
  const cases = vectors('ed25519.json').cases as Ed25519Vector[];
  it('covers small-order, non-canonical and mixed-order edge cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.some((c) => c.valid)).toBe(true);
  });
  it.each(cases)('$name -> valid=$valid', (c) => {
    for (const suite of suites) {
      expect([suite.name, suite.verify(hex(c.signature), hex(c.message), hex(c.publicKey))]).toEqual([suite.name, c.valid]);
    }
  });
});

describe('PAE vectors', () => {
  it.each(vectors('pae.json').cases as { payloadType: string; payloadHex: string; paeHex: string }[])('$payloadType / $payloadHex', (c) => {
    expect(toHex(pae(c.payloadType, hex(c.payloadHex)))).toBe(c.paeHex);
  });
  it('lengths are in bytes, not characters', () => {
    const bytes = pae('t', new TextEncoder().encode('é'));
    expect(new TextDecoder().decode(bytes)).toBe('DSSEv1 1 t 2 é');
  });
});

describe('did:key vectors', () => {
  const v = vectors('did-key.json');
  it.each(v.valid as { publicKey: string; did: string }[])('$did', (c) => {
    expect(didKeyFromPublicKey(hex(c.publicKey))).toBe(c.did);
    expect(toHex(publicKeyFromDidKey(c.did) as Uint8Array)).toBe(c.publicKey);
  });
  it.each(v.invalid as { did: string; why: string }[])('rejects $why', (c) => {
    expect(publicKeyFromDidKey(c.did)).toBeUndefined();
  });
});

describe('model digest vectors', () => {
  it.each(vectors('model-digest.json').cases as { files: { path: string; contentUtf8: string; sha256: string }[]; root: string }[])('root $root', (c) => {
    const shuffled = [...c.files].reverse();
    expect(rootDigest(shuffled, referenceSuite).root).toBe(c.root);
    for (const f of c.files) expect(toHex(referenceSuite.sha256(new TextEncoder().encode(f.contentUtf8)))).toBe(f.sha256);
  });
});

describe('envelope vectors through the one ingest path the node runs', () => {
  const file = vectors('envelopes.json');
  const now = Date.parse(file.now);
  it('has valid and invalid cases for every error class', () => {
    const outcomes = new Set((file.cases as EnvelopeCase[]).map((c) => c.expect.outcome));
    expect([...outcomes].sort()).toEqual(['accept', 'ignore', 'reject']);
  });
  it.each(file.cases as EnvelopeCase[])('$name -> $expect.outcome $expect.code', async (c) => {
    for (const suite of suites) {
      // The node's own pipeline over a real LevelDB store: what gossip, sync, import and the API run.
      await using dir = await tempDir();
      await using store = await AttestationStore.open(dir.path);
      const limits: Limits = { ...DEFAULT_LIMITS, ...(c.limits ?? {}) };
      const ingestor = new Ingestor({ store, suite, limits, now: () => now });
      for (const g of c.given ?? []) expect((await ingestor.ingest(g)).outcome).toBe('accept');
      const d = await ingestor.ingest(c.envelope);
      if (c.expect.outcome === 'accept') expect({ outcome: d.outcome, id: 'id' in d ? d.id : undefined }).toEqual(c.expect);
      else expect({ outcome: d.outcome, code: d.code }).toEqual(c.expect);
      expect(store.size).toBe((c.given?.length ?? 0) + (d.outcome === 'accept' ? 1 : 0));
    }
  });
});

describe('view vectors: the reputation view of SPEC §10', () => {
  const file = vectors('views.json');
  it('covers the Sybil bound, scope, disputes, supersession, equivocation, subscriptions, blocks, what-if', () => {
    expect((file.cases as ViewCase[]).length).toBeGreaterThanOrEqual(7);
  });
  it.each(file.cases as ViewCase[])('$name -> $expect.status', (c) => {
    expect(expectedView(c)).toEqual(c.expect);
  });
  it('the Sybil cluster holds no more trust than the one weak endorsement carries, and changes no verdict', () => {
    const c = (file.cases as ViewCase[]).find((x) => x.name === 'sybil-cluster-behind-one-weak-endorsement')!;
    expect(c.expect.status).toBe('ok');
    const sybilTrust = Object.entries(c.expect.trust).filter(([issuer]) => c.endorsements.some((e) => e.endorser === issuer && e.endorsed !== issuer) && !(c.policy as { roots: { issuer: string }[] }).roots.some((r) => r.issuer === issuer));
    const weak = c.endorsements[0]!.endorsed;
    const carried = c.expect.trust[weak]!['audit']!; // (1 - spread) E = spread E at spread 0.5: what its one endorsement carries
    const total = sybilTrust.filter(([i]) => i !== weak).reduce((n, [, t]) => n + (t['audit'] ?? 0), 0);
    expect(total).toBeLessThanOrEqual(carried + 1e-4);
  });
});
