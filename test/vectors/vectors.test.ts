import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits } from '../../src/ingest/limits.js';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { pae } from '../../src/dsse/pae.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { rootDigest } from '../../src/digest/model-digest.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { buildVectors, type AttestationVector, type EndorsementVector, type EnvelopeCase, type Ed25519Vector, type TrustCase, type ViewCase } from '../tools/vectors.js';
import { buildSchemas } from '../tools/schemas.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { reputationView, type ReputationView, type ViewInput } from '../../src/reputation/view.js';
import { inheritFrom, lineageBases, lineageWalk, MAX_LINEAGE_DEPTH } from '../../src/reputation/lineage.js';
import { kindOfType } from '../../src/statement/predicates.js';
import { STATEMENT_TYPE, type Statement } from '../../src/statement/statement.js';
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

// --- SPEC §10: the code run on each case's inputs, compared with the hand-worked expectation ---

const KINDS = ['audit', 'dealignment', 'license', 'payload', 'lineage', 'provenance'] as const;
/** Every number rounded to `places` decimals, so exact hand-worked values compare with the code's floats. */
function rounded<T>(x: T, places: number): T {
  const f = 10 ** places;
  return JSON.parse(JSON.stringify(x), (_, v: unknown) => (typeof v === 'number' ? Math.round(v * f) / f : v)) as T;
}
const endorsementInput = (e: EndorsementVector): EndorsementInput => ({
  id: e.id, endorser: e.endorser, endorsed: e.endorsed, scope: e.scope, weight: e.weight, issuedAt: Date.parse(e.issuedAt),
  expiresAt: e.expiresAt === undefined ? undefined : Date.parse(e.expiresAt), retracted: e.retracted,
});
/** The trust graph of a case; with `without`, as if that issuer were blocked (SPEC §10.3). */
function graphOf(policy: unknown, endorsements: EndorsementVector[], now: number, without?: string): TrustGraph {
  const p = TrustPolicyFile.parse(policy);
  const q = without === undefined ? p : TrustPolicyFile.parse({ ...p, roots: p.roots.filter((r) => r.issuer !== without), subscriptions: p.subscriptions.filter((s) => s.issuer !== without), blocks: [...p.blocks, { issuer: without }] });
  return TrustGraph.compute(q, endorsements.map(endorsementInput), now);
}
const viewInput = (digest: string, a: AttestationVector): ViewInput => ({
  id: a.id, issuer: a.issuer, kind: kindOfType(a.predicateType), issuedAt: Date.parse(a.issuedAt), expiresAt: a.expiresAt === undefined ? undefined : Date.parse(a.expiresAt),
  statement: { _type: STATEMENT_TYPE, subject: [{ name: '', digest: { sha256: digest } }], predicateType: a.predicateType, predicate: a.predicate } as Statement,
});

/** The view of `digest` with the lineage of SPEC §10.5, walked as the node walks it (node/local/local-node.ts). */
function viewOf(c: ViewCase, digest: string, now: number): ReputationView {
  const graph = graphOf(c.policy, c.endorsements, now, c.without);
  const walk = lineageWalk(digest);
  const at = (d: string, depth: number): ReputationView => {
    const inputs = (d === digest ? c.attestations : c.bases?.[d] ?? []).map((a) => viewInput(d, a));
    const own = reputationView(d, inputs, graph, now, { without: c.without });
    if ((own.byPredicate['lineage']?.counted ?? 0) === 0 || depth >= MAX_LINEAGE_DEPTH) return own;
    const views = lineageBases(own, walk).map((base) => ({ base, view: at(base.digest, depth + 1) }));
    const inherited = inheritFrom(own, views);
    return inherited.length === 0 ? own : reputationView(d, inputs, graph, now, { without: c.without, inherited });
  };
  return at(digest, 0);
}

/** What views.json pins of a view (SPEC §10.3-10.5), in its shape. */
function projectView(v: ReputationView, e: ViewCase['expect']): ViewCase['expect'] {
  const byKind: ViewCase['expect']['byKind'] = {};
  for (const k of KINDS) {
    const g = v.byPredicate[k];
    if (g === undefined || (g.status === 'unknown' && g.counted === 0)) continue;
    byKind[k] = { status: g.status, summary: g.summary, counted: g.counted, weights: { fail: g.weights.fail, warn: g.weights.warn, pass: g.weights.pass } };
  }
  const attestations: NonNullable<ViewCase['expect']['attestations']> = {};
  for (const g of Object.values(v.byPredicate)) {
    for (const i of g.attestations) {
      expect(attestations[i.id], `${i.id} is listed once`).toBeUndefined();
      attestations[i.id] = {
        reason: i.reason, counts: i.counts, ...(i.verdict === undefined ? {} : { verdict: i.verdict }), ...(i.counts ? { weight: i.weight ?? 0 } : {}),
        ...(i.retractedBy === undefined ? {} : { retractedBy: i.retractedBy }),
        ...(i.inherited === undefined ? {} : { inherited: { from: i.inherited.from, relation: i.inherited.relation, lineageBy: i.inherited.lineageBy, originalVerdict: i.inherited.originalVerdict } }),
      };
    }
  }
  const bySide = (s: { issuer: string; weight: number }[]): { issuer: string; weight: number }[] => s.map(({ issuer, weight }) => ({ issuer, weight })).sort((x, y) => (x.issuer < y.issuer ? -1 : 1));
  return {
    status: v.status,
    byKind,
    ...(e.attestations === undefined ? {} : { attestations }),
    disputes: v.disputes.map((d) => ({ kind: d.kind, fail: bySide(d.fail), pass: bySide(d.pass) })),
    equivocators: v.equivocators,
    ...(e.untrusted === undefined ? {} : { untrusted: { listed: v.untrusted.listed, fail: v.untrusted.fail, warn: v.untrusted.warn, pass: v.untrusted.pass } }),
  };
}

/** What trust-graph.json pins of a graph (SPEC §10.2). */
function projectTrust(g: TrustGraph, e: TrustCase['expect']): TrustCase['expect'] {
  const trust: TrustCase['expect']['trust'] = {};
  for (const [issuer, t] of g.reached()) trust[issuer] = t;
  const paths: NonNullable<TrustCase['expect']['paths']> = {};
  for (const [issuer, { kind }] of Object.entries(e.paths ?? {})) {
    const hops = g.trust(issuer, kind).path;
    paths[issuer] = { kind, path: hops.length === 0 ? [] : [hops[0]!.from, ...hops.map((h) => h.to)] };
  }
  return { trust, ...(e.paths === undefined ? {} : { paths }) };
}

const sortedExpect = (e: ViewCase['expect']): ViewCase['expect'] => ({ ...e, disputes: e.disputes.map((d) => ({ kind: d.kind, fail: [...d.fail].sort((x, y) => (x.issuer < y.issuer ? -1 : 1)), pass: [...d.pass].sort((x, y) => (x.issuer < y.issuer ? -1 : 1)) })) });

describe('trust-graph vectors: SPEC §10.1-10.2, worked out by hand', () => {
  const file = vectors('trust-graph.json');
  const now = Date.parse(file.now);
  const cases = file.cases as TrustCase[];
  it('every case names the rule it pins', () => {
    for (const c of cases) expect(c.rule, c.name).toMatch(/§10\.\d/);
  });
  it.each(cases.filter((c) => c.pending === undefined))('$name', (c) => {
    expect(rounded(projectTrust(graphOf(c.policy, c.endorsements, now), c.expect), 6)).toEqual(rounded(c.expect, 6));
  });
  it.each(cases.filter((c) => c.pending !== undefined))('$name: the code still disagrees with the SPEC reading (pending)', (c) => {
    // When this fails the code has changed: resolve the case (drop `pending`, or fix the expectation and the SPEC).
    expect(rounded(projectTrust(graphOf(c.policy, c.endorsements, now), c.expect), 6)).not.toEqual(rounded(c.expect, 6));
  });
});

describe('view vectors: SPEC §10 (and §9 retractions), worked out by hand', () => {
  const file = vectors('views.json');
  const now = Date.parse(file.now);
  const cases = file.cases as ViewCase[];
  it('every case names the rule it pins', () => {
    for (const c of cases) expect(c.rule, c.name).toMatch(/§(9|10)\.?\d?/);
  });
  it('covers every §10 count reason and status', () => {
    const reasons = new Set(cases.flatMap((c) => Object.values(c.expect.attestations ?? {}).map((i) => i.reason)));
    expect([...reasons].sort()).toEqual(['blocked', 'equivocating', 'expired', 'ignored', 'not-scored', 'retracted', 'superseded', 'trusted', 'untrusted', 'weak']);
    expect([...new Set(cases.map((c) => c.expect.status))].sort()).toEqual(['caution', 'disputed', 'flagged', 'ok', 'unknown']);
  });
  it.each(cases.filter((c) => c.pending === undefined))('$name -> $expect.status', (c) => {
    expect(rounded(projectView(viewOf(c, file.digest, now), c.expect), 4)).toEqual(rounded(sortedExpect(c.expect), 4));
  });
  it.each(cases.filter((c) => c.pending !== undefined))('$name: the code still disagrees with the SPEC reading (pending)', (c) => {
    expect(rounded(projectView(viewOf(c, file.digest, now), c.expect), 4)).not.toEqual(rounded(sortedExpect(c.expect), 4));
  });
});
