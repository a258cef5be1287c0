import { createHash } from 'node:crypto';
import { base58 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { TrustPolicyFile, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { reputationView, type ViewInput } from '../../src/reputation/view.js';
import { inheritedVerdict } from '../../src/reputation/lineage.js';
import { PREDICATES, kindOfType, type PredicateKind } from '../../src/statement/predicates.js';
import { STATEMENT_TYPE } from '../../src/statement/statement.js';
import { prng } from '../support/prng.js';

const DIGEST = 'e'.repeat(64);
const NOW = Date.parse('2026-06-01T00:00:00Z');
let n = 0;
const id = (): string => (n++).toString(16).padStart(64, '0');

function att(issuer: string, kind: PredicateKind | string, fields: Record<string, unknown>, o: { issuedAt?: number; expiresAt?: number } = {}): ViewInput {
  const predicateType = kind in PREDICATES ? PREDICATES[kind as PredicateKind].type : kind;
  const issuedAt = o.issuedAt ?? NOW - 86_400_000;
  return {
    id: id(),
    issuer,
    kind: kindOfType(predicateType),
    statement: { _type: STATEMENT_TYPE, subject: [{ name: '', digest: { sha256: DIGEST } }], predicateType, predicate: { issuer, issuedAt: new Date(issuedAt).toISOString(), ...fields } },
    issuedAt,
    expiresAt: o.expiresAt,
  };
}
const audit = (verdict: string) => ({ harness: { name: 'h', version: '1' }, metrics: {}, verdict });
const payload = (severity: string) => ({ scanner: { name: 's', version: '1' }, finding: { kind: 'pickle-exec', description: 'os.system' }, severity });
const license = (verdict: string) => ({ declared: 'MIT', detected: ['GPL-3.0-only'], verdict });

function policy(p: Partial<{ roots: { issuer: string; scope?: string[]; weight?: number; note?: string }[]; blocks: { issuer: string }[]; subscriptions: { issuer: string; weight?: number }[]; params: Record<string, unknown> }>): TrustPolicy {
  return TrustPolicyFile.parse({ version: 2, ...p });
}
function edge(endorser: string, endorsed: string, weight = 1, scope: string[] = ['*'], o: Partial<EndorsementInput> = {}): EndorsementInput {
  return { id: id(), endorser, endorsed, scope, weight, issuedAt: NOW - 1000, expiresAt: undefined, retracted: false, ...o };
}
/** A well-formed did:key string for a name (the graph and view never decode it). */
const did = (name: string): string => `did:key:z6Mk${base58.encode(createHash('sha256').update(name).digest()).slice(0, 42)}`;
const LAB = did('lab');
const RED = did('redteam');
const ANON = did('anon');

describe('trust graph: transitive, scoped, personalised', () => {
  it('kinds no endorsement names share one spread only when their roots are the same: a root scoped to audit reaches nobody in payload', () => {
    const [curator, scanner, auditor] = [did('curator'), did('scanner'), did('auditor')];
    const edges = [edge(LAB, curator, 1), edge(curator, auditor, 1), edge(curator, scanner, 1, ['license'])];
    const g = TrustGraph.compute(policy({ roots: [{ issuer: LAB, scope: ['audit', 'dealignment'] }, { issuer: RED, scope: ['payload'] }] }), edges, NOW);
    // audit and dealignment (named by no edge, same roots): the same trust through the '*' edges.
    expect(g.trust(auditor, 'audit').trust).toBeGreaterThan(0);
    expect(g.trust(auditor, 'dealignment').trust).toBe(g.trust(auditor, 'audit').trust);
    // payload (named by no edge, other roots): LAB's endorsements carry nothing there.
    expect(g.trust(auditor, 'payload').trust).toBe(0);
    expect(g.trust(RED, 'payload').via).toBe('root');
    expect(g.trust(LAB, 'payload').trust).toBe(0);
    // license: named by an edge, and LAB is no root for it.
    expect(g.trust(scanner, 'license').trust).toBe(0);
    expect(g.trust(scanner, 'audit').trust).toBe(0);
  });

  it('1,000 Sybil keys endorsing each other, attached by one weak endorsement, hold in total no more than that edge carries, and change no verdict', () => {
    const weak = did('weak');
    const edges: EndorsementInput[] = [edge(LAB, RED, 1), edge(LAB, weak, 0.1)];
    const sybils = Array.from({ length: 1000 }, (_, i) => did(`sybil${i}`));
    edges.push(edge(weak, sybils[0]!, 1));
    const rand = prng(3);
    for (const s of sybils) for (let k = 0; k < 10; k++) edges.push(edge(s, sybils[Math.floor(rand() * 1000)]!, 1));
    const g = TrustGraph.compute(policy({ roots: [{ issuer: LAB }] }), edges, NOW);
    const d = g.params.spread;
    // What the one edge carries: the energy `weak` passes on (it has one endorsement).
    const weakEnergy = g.trust(weak, 'audit').trust / (1 - d);
    const carried = d * weakEnergy;
    const total = sybils.reduce((s, x) => s + g.trust(x, 'audit').trust, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(carried + 1e-12);
    // Almost all of them count for nothing; the few near the attachment share that one edge's energy.
    expect(sybils.filter((s) => g.counts(s)).length).toBeLessThan(10);
    // The lab and its red team pass the model; all 1,000 Sybils fail it: still ok.
    const inputs = [att(LAB, 'audit', audit('pass')), att(RED, 'audit', audit('pass')), ...sybils.map((s) => att(s, 'audit', audit('fail')))];
    const v = reputationView(DIGEST, inputs, g, NOW);
    expect(v.status).toBe('ok');
    expect(v.byPredicate['audit']!.status).toBe('ok');
    expect(v.byPredicate['audit']!.weights.pass).toBeCloseTo(1 + g.trust(RED, 'audit').trust, 4);
    expect(v.byPredicate['audit']!.weights.fail).toBeLessThanOrEqual(carried);
  });

  it('scope is carried along a path: an audit-scoped endorsement grants no license trust, a payload root no audit trust', () => {
    const g = TrustGraph.compute(policy({ roots: [{ issuer: LAB }, { issuer: RED, scope: ['payload'] }] }), [edge(LAB, ANON, 1, ['audit']), edge(RED, did('scanner'), 1, ['*'])], NOW);
    expect(g.trust(ANON, 'audit').trust).toBeCloseTo(0.25);
    expect(g.trust(ANON, 'license').trust).toBe(0);
    expect(g.trust(RED, 'payload').trust).toBe(1);
    expect(g.trust(RED, 'audit').trust).toBe(0);
    // A '*' endorsement from a payload-only root carries payload trust only.
    expect(g.trust(did('scanner'), 'payload').trust).toBeGreaterThan(0);
    expect(g.trust(did('scanner'), 'audit').trust).toBe(0);
    const v = reputationView(DIGEST, [att(RED, 'audit', audit('fail')), att(RED, 'payload', payload('critical'))], g, NOW);
    expect(v.status).toBe('flagged');
    expect(v.byPredicate['audit']!.attestations[0]).toMatchObject({ counts: false, reason: 'untrusted' });
    expect(v.byPredicate['payload']!.attestations[0]).toMatchObject({ counts: true, weight: 1 });
  });

  it('a block beats every path; retracted or expired endorsements give nothing', () => {
    const edges = [edge(LAB, ANON), edge(ANON, RED), edge(LAB, did('x'), 1, ['*'], { retracted: true }), edge(LAB, did('y'), 1, ['*'], { expiresAt: NOW - 1 })];
    const open = TrustGraph.compute(policy({ roots: [{ issuer: LAB }] }), edges, NOW);
    expect(open.counts(RED)).toBe(true);
    const blocked = TrustGraph.compute(policy({ roots: [{ issuer: LAB }], blocks: [{ issuer: ANON }] }), edges, NOW);
    expect(blocked.trust(ANON, 'audit')).toMatchObject({ trust: 0, via: 'blocked' });
    expect(blocked.counts(RED)).toBe(false);
    expect(open.counts(did('x'))).toBe(false);
    expect(open.counts(did('y'))).toBe(false);
    // An issuer is a root or a block, never both (nor listed twice: that would multiply its weight).
    expect(() => policy({ roots: [{ issuer: LAB }], blocks: [{ issuer: LAB }] })).toThrow(/more than once/);
    expect(() => policy({ roots: [{ issuer: LAB }, { issuer: LAB }] })).toThrow(/more than once/);
  });

  it('cycles, self-endorsement and endorsing a blocked key change nothing', () => {
    const base = [edge(LAB, ANON, 0.8), edge(ANON, RED, 0.6)];
    const p = policy({ roots: [{ issuer: LAB }], blocks: [{ issuer: did('bad') }] });
    const g0 = TrustGraph.compute(p, base, NOW);
    const g1 = TrustGraph.compute(p, [...base, edge(RED, LAB), edge(RED, ANON), edge(ANON, ANON), edge(ANON, did('bad'))], NOW);
    for (const x of [LAB, ANON, RED]) expect(g1.trust(x, 'audit').trust).toBeCloseTo(g0.trust(x, 'audit').trust, 12);
  });

  it('a newer endorsement supersedes an older one by the same endorser; trust paths name each hop', () => {
    const older = edge(LAB, ANON, 1, ['*'], { issuedAt: NOW - 5000 });
    const newer = edge(LAB, ANON, 0.2, ['*'], { issuedAt: NOW - 10 });
    const g = TrustGraph.compute(policy({ roots: [{ issuer: LAB, note: 'our lab' }] }), [older, newer, edge(ANON, RED, 1)], NOW);
    expect(g.trust(ANON, 'audit').trust).toBeCloseTo(0.5 * 0.5 * 0.2);
    expect(g.trust(RED, 'audit').path.map((h) => [h.from, h.to, h.endorsement])).toEqual([[LAB, ANON, newer.id], [ANON, RED, expect.any(String)]]);
    expect(g.noteOf(LAB)).toBe('our lab');
  });

  it('a subscription follows a curator\'s endorsements without trusting the curator\'s own word', () => {
    const curator = did('curator');
    const scanner = did('scanner');
    const g = TrustGraph.compute(policy({ subscriptions: [{ issuer: curator, weight: 0.8 }] }), [edge(curator, scanner, 1, ['payload'])], NOW);
    expect(g.counts(curator)).toBe(false);
    expect(g.trust(scanner, 'payload').trust).toBeCloseTo(0.4);
    expect(g.trust(scanner, 'payload').path[0]).toMatchObject({ from: curator, to: scanner });
    const v = reputationView(DIGEST, [att(scanner, 'payload', payload('critical')), att(curator, 'audit', audit('fail'))], g, NOW);
    expect(v.status).toBe('flagged');
    expect(v.byPredicate['audit']!.counted).toBe(0);
  });
});

describe('verdicts from weighted evidence', () => {
  const g = (roots: { issuer: string; weight?: number; note?: string }[], params: Record<string, unknown> = {}) => TrustGraph.compute(policy({ roots, params }), [], NOW);

  it('trusted issuers that contradict each other are disputed, both sides shown with their weights', () => {
    const v = reputationView(DIGEST, [att(LAB, 'audit', audit('fail')), att(RED, 'audit', audit('pass'))], g([{ issuer: LAB }, { issuer: RED, weight: 0.8 }]), NOW);
    expect(v.status).toBe('disputed');
    expect(v.disputes).toEqual([{ kind: 'audit', fail: [{ issuer: LAB, weight: 1, id: expect.any(String) }], pass: [{ issuer: RED, weight: 0.8, id: expect.any(String) }] }]);
    expect(v.reason).toMatch(/^disputed/);
    // Far apart in weight: the heavier side decides, the lighter shows as caution when it is the fail.
    expect(reputationView(DIGEST, [att(LAB, 'audit', audit('fail')), att(RED, 'audit', audit('pass'))], g([{ issuer: LAB }, { issuer: RED, weight: 0.3 }]), NOW).status).toBe('flagged');
    expect(reputationView(DIGEST, [att(LAB, 'audit', audit('pass')), att(RED, 'audit', audit('fail'))], g([{ issuer: LAB }, { issuer: RED, weight: 0.3 }]), NOW).status).toBe('caution');
  });

  it('newest wins within one issuer; contradictory verdicts signed at once are equivocation and count for nothing', () => {
    const t = NOW - 3600_000;
    const old = att(LAB, 'audit', audit('fail'), { issuedAt: t - 1000 });
    const fresh = att(LAB, 'audit', audit('pass'), { issuedAt: t });
    const v = reputationView(DIGEST, [old, fresh], g([{ issuer: LAB }]), NOW);
    expect(v.status).toBe('ok');
    expect(v.byPredicate['audit']!.attestations.find((a) => a.id === old.id)).toMatchObject({ reason: 'superseded', supersededBy: fresh.id, counts: false });
    const twin = att(LAB, 'audit', audit('fail'), { issuedAt: t });
    const e = reputationView(DIGEST, [old, fresh, twin], g([{ issuer: LAB }]), NOW);
    expect(e.equivocators).toEqual([LAB]);
    expect(e.status).toBe('unknown');
    expect(e.byPredicate['audit']!.attestations.filter((a) => a.reason === 'equivocating')).toHaveLength(2);
  });

  it('a license problem is caution by default, flagged only if the policy says so; retractions are not a group', () => {
    const inputs = [att(LAB, 'license', license('noncompliant'))];
    expect(reputationView(DIGEST, inputs, g([{ issuer: LAB }]), NOW).status).toBe('caution');
    expect(reputationView(DIGEST, inputs, g([{ issuer: LAB }], { severity: { license: 'flagged' } }), NOW).status).toBe('flagged');
    const r = att(LAB, 'retraction', { target: inputs[0]!.id });
    const v = reputationView(DIGEST, [...inputs, r], g([{ issuer: LAB }]), NOW);
    expect(Object.keys(v.byPredicate)).toEqual(['license']);
    expect(v.byPredicate['license']!.attestations[0]).toMatchObject({ reason: 'retracted', retractedBy: r.id });
    expect(v.status).toBe('unknown');
  });

  it('what-if: the view without one issuer; the reason names the issuer by its note', () => {
    const inputs = [att(LAB, 'payload', payload('critical')), att(RED, 'audit', audit('pass'))];
    const trust = g([{ issuer: LAB, note: 'our lab' }, { issuer: RED }]);
    const v = reputationView(DIGEST, inputs, trust, NOW);
    expect(v.status).toBe('flagged');
    expect(v.reason).toContain('our lab');
    const w = reputationView(DIGEST, inputs, trust, NOW, { without: LAB });
    expect(w).toMatchObject({ status: 'ok', without: LAB });
    expect(w.byPredicate['payload']!.attestations[0]).toMatchObject({ reason: 'ignored', counts: false });
  });

  it('a newcomer\'s view is not empty: it says what untrusted evidence exists and how to start trusting', () => {
    const v = reputationView(DIGEST, [att(ANON, 'audit', audit('fail')), att(ANON, 'audit', audit('fail'), { issuedAt: NOW - 5 }), att(RED, 'audit', audit('pass'))], g([]), NOW);
    expect(v.status).toBe('unknown');
    expect(v.untrusted).toMatchObject({ listed: 3, fail: 2, pass: 1 });
    expect(v.reason).toMatch(/you trust no issuer yet.*3 listed attestation.*2 fail.*chorus trust add/);
  });
});

describe('lineage rules', () => {
  it('a quantization inherits de-alignment and license findings, not payload ones; a fine-tune\'s own audit replaces the base\'s', () => {
    expect(inheritedVerdict('dealignment', 'fail', 'quantized', false)).toBe('fail');
    expect(inheritedVerdict('license', 'fail', 'quantized', false)).toBe('fail');
    expect(inheritedVerdict('payload', 'fail', 'quantized', false)).toBeUndefined();
    expect(inheritedVerdict('audit', 'fail', 'quantized', true)).toBe('warn');
    expect(inheritedVerdict('audit', 'fail', 'fine-tuned', false)).toBe('warn');
    expect(inheritedVerdict('audit', 'fail', 'fine-tuned', true)).toBeUndefined();
    expect(inheritedVerdict('audit', 'pass', 'fine-tuned', false)).toBeUndefined();
    expect(inheritedVerdict('audit', 'fail', 'converted', true)).toBe('fail');
    expect(inheritedVerdict('dealignment', 'fail', 'fine-tuned', false)).toBe('warn');
  });
});
