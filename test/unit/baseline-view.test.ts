import { describe, expect, it } from 'vitest';
import { baselineView, type ViewInput } from '../../src/reputation/baseline-view.js';
import { PREDICATES, kindOfType, type PredicateKind } from '../../src/statement/predicates.js';
import { STATEMENT_TYPE } from '../../src/statement/statement.js';

const DIGEST = 'e'.repeat(64);
const NOW = Date.parse('2026-06-01T00:00:00Z');
let n = 0;

function att(issuer: string, kindOrType: PredicateKind | string, fields: Record<string, unknown>, o: { issuedAt?: number; expiresAt?: number; id?: string } = {}): ViewInput {
  const predicateType = kindOrType in PREDICATES ? PREDICATES[kindOrType as PredicateKind].type : kindOrType;
  const issuedAt = o.issuedAt ?? NOW - 86_400_000;
  return {
    id: o.id ?? (n++).toString(16).padStart(64, '0'),
    issuer,
    kind: kindOfType(predicateType),
    statement: { _type: STATEMENT_TYPE, subject: [{ name: '', digest: { sha256: DIGEST } }], predicateType, predicate: { issuer, issuedAt: new Date(issuedAt).toISOString(), ...fields } },
    issuedAt,
    expiresAt: o.expiresAt,
    receivedAt: issuedAt,
  };
}

const audit = (verdict: string) => ({ harness: { name: 'h', version: '1' }, metrics: {}, verdict });
const LAB = 'did:key:lab';
const ANON = 'did:key:anon';

describe('baseline reputation view', () => {
  it('only trusted issuers count; an untrusted fail is shown but does not flag', () => {
    const v = baselineView(DIGEST, [att(LAB, 'audit', audit('pass')), att(ANON, 'audit', audit('fail'))], { trusted: new Set([LAB]) }, NOW);
    expect(v.status).toBe('ok');
    expect(v.byPredicate['audit']).toMatchObject({ summary: 'pass', counted: 1, total: 2 });
    const anon = v.byPredicate['audit']?.attestations.find((a) => a.issuer === ANON);
    expect(anon).toMatchObject({ counts: false, reason: 'untrusted', verdict: 'fail' });
  });

  it('two participants with different trust get different, explained answers', () => {
    const inputs = [att(LAB, 'audit', audit('pass')), att(ANON, 'payload', { scanner: { name: 's', version: '1' }, finding: { kind: 'backdoor', description: 'x' }, severity: 'high' })];
    expect(baselineView(DIGEST, inputs, { trusted: new Set([LAB]) }, NOW).status).toBe('ok');
    const community = baselineView(DIGEST, inputs, { trusted: new Set([LAB, ANON]) }, NOW);
    expect(community.status).toBe('flagged');
    expect(community.byPredicate['payload']?.summary).toBe('fail');
  });

  it('a retraction by the same issuer withdraws; one by another issuer does not', () => {
    const target = att(LAB, 'audit', audit('fail'), { id: 'a'.repeat(64) });
    const foreign = att(ANON, 'retraction', { target: target.id });
    const own = att(LAB, 'retraction', { target: target.id }, { id: 'b'.repeat(64) });
    const trusted = { trusted: new Set([LAB, ANON]) };
    expect(baselineView(DIGEST, [target, foreign], trusted, NOW).status).toBe('flagged');
    const v = baselineView(DIGEST, [target, foreign, own], trusted, NOW);
    expect(v.status).toBe('unknown');
    expect(v.byPredicate['audit']?.attestations[0]).toMatchObject({ counts: false, reason: 'retracted', retractedBy: own.id });
  });

  it('expired attestations are shown as expired and do not count', () => {
    const v = baselineView(DIGEST, [att(LAB, 'audit', audit('fail'), { expiresAt: NOW - 1 })], { trusted: new Set([LAB]) }, NOW);
    expect(v.status).toBe('unknown');
    expect(v.byPredicate['audit']?.attestations[0]?.reason).toBe('expired');
  });

  it('maps each kind to a verdict: dealignment fails, license unknown warns, lineage informs', () => {
    const t = { trusted: new Set([LAB]) };
    expect(baselineView(DIGEST, [att(LAB, 'dealignment', { baseModel: { sha256: 'a'.repeat(64) }, method: 'lora', evidence: { description: 'd' } })], t, NOW).status).toBe('flagged');
    expect(baselineView(DIGEST, [att(LAB, 'license', { declared: null, detected: [], verdict: 'unknown' })], t, NOW).status).toBe('caution');
    const lineage = baselineView(DIGEST, [att(LAB, 'lineage', { derivedFrom: [{ digest: { sha256: 'b'.repeat(64) }, relation: 'quantized' }] })], t, NOW);
    expect(lineage.status).toBe('unknown');
    expect(lineage.byPredicate['lineage']?.summary).toBe('info');
  });

  it('keeps unknown predicate types, grouped by their URI, never scored', () => {
    const v = baselineView(DIGEST, [att(LAB, 'https://example.org/new/v1', { x: 1 })], { trusted: new Set([LAB]) }, NOW);
    expect(v.byPredicate['https://example.org/new/v1']).toMatchObject({ summary: 'none', counted: 0, total: 1 });
    expect(v.byPredicate['https://example.org/new/v1']?.attestations[0]?.reason).toBe('not-scored');
    expect(v.status).toBe('unknown');
  });

  it('no attestations: unknown, with no groups', () => {
    const v = baselineView(DIGEST, [], { trusted: new Set() }, NOW);
    expect(v).toMatchObject({ digest: `sha256:${DIGEST}`, status: 'unknown', byPredicate: {} });
  });
});
