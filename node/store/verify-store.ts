import { ChorusError } from '../../src/errors.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { verifyEnvelope } from '../../src/ingest/verify-envelope.js';
import type { RetractionPredicate } from '../../src/statement/predicates.js';
import type { AttestationStore } from './attestation-store.js';
import { lineageBases } from './index-entries.js';
import { decodeKey, indexValue, P } from './keys.js';
import { recordEnvelopeJson, recordSeq } from './record.js';

export interface StoreProblem {
  readonly kind: 'bad-record' | 'bad-signature' | 'dangling-index' | 'missing-index' | 'counter';
  readonly message: string;
  readonly id?: string;
}

export interface StoreReport {
  readonly records: number;
  readonly indexEntries: number;
  readonly problems: readonly StoreProblem[];
  readonly ok: boolean;
}

interface RecordFacts {
  seq: number;
  issuerKey: string;
  subjects: Set<string>;
  target: string | undefined;
  t: number;
  /** expiresAt in seconds; undefined for none and for retractions (they do not expire). */
  expires: number | undefined;
  endorsement: boolean;
  bases: Set<string>;
}

/**
 * Re-checks every stored envelope (schema, signature, id) and every index entry (points
 * at a record whose facts match; every record has all its entries).
 */
export async function verifyStore(store: AttestationStore, suite: CryptoSuite, opts: { onProgress?: (n: number) => void; maxProblems?: number } = {}): Promise<StoreReport> {
  const max = opts.maxProblems ?? 100;
  const problems: StoreProblem[] = [];
  const add = (p: StoreProblem): void => {
    if (problems.length < max) problems.push(p);
  };
  const facts = new Map<string, RecordFacts>();
  let records = 0;
  const usage = new Map<string, { bytes: number; count: number }>();
  const envelopeBytes = new Map<string, number>();
  for await (const { id, value } of store.records()) {
    records++;
    if (records % 10_000 === 0) opts.onProgress?.(records);
    const envelope = recordEnvelopeJson(value);
    if (envelope === undefined) {
      add({ kind: 'bad-record', id, message: 'record is truncated or damaged' });
      continue;
    }
    const seq = recordSeq(value);
    try {
      const att = verifyEnvelope(envelope, suite, { maxEnvelopeBytes: Number.MAX_SAFE_INTEGER });
      if (att.id !== id) add({ kind: 'bad-record', id, message: `record is stored under ${id} but its id is ${att.id}` });
      facts.set(id, {
        seq,
        issuerKey: Buffer.from(att.issuerKey).toString('hex'),
        subjects: new Set(att.subjects),
        target: att.kind === 'retraction' ? (att.statement.predicate as RetractionPredicate).target : undefined,
        t: Math.floor(att.issuedAt / 1000),
        expires: att.expiresAt === undefined || att.kind === 'retraction' ? undefined : Math.floor(att.expiresAt / 1000),
        endorsement: att.kind === 'endorsement',
        bases: new Set(lineageBases(att)),
      });
      envelopeBytes.set(id, envelope.length);
      const u = usage.get(att.issuer) ?? { bytes: 0, count: 0 };
      usage.set(att.issuer, { bytes: u.bytes + envelope.length, count: u.count + 1 });
    } catch (e) {
      const code = e instanceof ChorusError ? e.code : 'bad_input';
      add({ kind: code === 'bad_signature' ? 'bad-signature' : 'bad-record', id, message: `${code}: ${(e as Error).message}` });
    }
  }

  let indexEntries = 0;
  const seen = { subject: 0, issuer: 0, seq: 0, retraction: 0, time: 0, subjectIssuer: 0, expiry: 0, endorsement: 0, derived: 0 };
  const check = (ok: boolean, id: string, message: string): void => {
    if (!ok) add({ kind: 'dangling-index', id, message });
  };
  for await (const { key, value } of store.indexEntries(P.subject)) {
    indexEntries++;
    seen.subject++;
    const id = value.toString('hex');
    const f = facts.get(id);
    const k = decodeKey.subject(key);
    check(f !== undefined && f.subjects.has(k.subject) && f.seq === k.seq, id, 'subject index entry does not match a record');
  }
  for await (const { key, value } of store.indexEntries(P.issuer)) {
    indexEntries++;
    seen.issuer++;
    const { id, bytes } = indexValue.issuer(value);
    check(bytes === envelopeBytes.get(id), id, 'issuer index entry does not carry the envelope size');
    const f = facts.get(id);
    const k = decodeKey.issuer(key);
    check(f !== undefined && f.issuerKey === k.issuerKey && f.seq === k.seq, id, 'issuer index entry does not match a record');
  }
  for await (const { key, value } of store.indexEntries(P.seq)) {
    indexEntries++;
    seen.seq++;
    const id = value.toString('hex');
    check(facts.get(id)?.seq === decodeKey.seq(key).seq, id, 'arrival index entry does not match a record');
  }
  for await (const { key } of store.indexEntries(P.retraction)) {
    indexEntries++;
    seen.retraction++;
    const { target, retraction: id } = decodeKey.retraction(key);
    check(facts.get(id)?.target === target, id, 'retraction index entry does not match a record');
  }
  for await (const { key } of store.indexEntries(P.time)) {
    indexEntries++;
    seen.time++;
    const { t, id } = decodeKey.time(key);
    check(facts.get(id)?.t === t, id, 'time index entry does not match a record');
  }
  for await (const { key, value } of store.indexEntries(P.subjectIssuer)) {
    indexEntries++;
    seen.subjectIssuer++;
    const id = value.toString('hex');
    const f = facts.get(id);
    const k = decodeKey.subjectIssuer(key);
    check(f !== undefined && f.subjects.has(k.subject) && f.issuerKey === k.issuerKey && f.seq === k.seq, id, 'subject-issuer index entry does not match a record');
  }
  for await (const { key } of store.indexEntries(P.expiry)) {
    indexEntries++;
    seen.expiry++;
    const { expiresAt, id } = decodeKey.expiry(key);
    check(facts.get(id)?.expires === expiresAt, id, 'expiry index entry does not match a record');
  }
  for await (const { key, value } of store.indexEntries(P.endorsement)) {
    indexEntries++;
    seen.endorsement++;
    const id = value.toString('hex');
    const f = facts.get(id);
    const k = decodeKey.endorsement(key);
    check(f !== undefined && f.endorsement && f.issuerKey === k.issuerKey && f.seq === k.seq, id, 'endorsement index entry does not match a record');
  }
  for await (const { key, value } of store.indexEntries(P.derived)) {
    indexEntries++;
    seen.derived++;
    const id = value.toString('hex');
    const f = facts.get(id);
    const k = decodeKey.derived(key);
    check(f !== undefined && f.bases.has(k.base) && f.seq === k.seq, id, 'derived index entry does not match a record');
  }
  // Every entry above is valid and keys are unique, so equal counts mean none is missing.
  let subjects = 0;
  let endorsements = 0;
  let retractions = 0;
  let expiring = 0;
  let bases = 0;
  const perSubject = new Map<string, number>();
  for (const f of facts.values()) {
    subjects += f.subjects.size;
    if (f.target !== undefined) retractions++;
    if (f.expires !== undefined) expiring++;
    if (f.endorsement) endorsements++;
    bases += f.bases.size;
    for (const d of f.subjects) perSubject.set(d, (perSubject.get(d) ?? 0) + 1);
  }
  let counters = 0;
  for await (const { key, value } of store.indexEntries(P.subjectCount)) {
    indexEntries++;
    counters++;
    const d = decodeKey.subjectCount(key).subject;
    const want = perSubject.get(d) ?? 0;
    const got = indexValue.count(value);
    if (got !== want) add({ kind: 'counter', message: `count of ${d} says ${got}, the store holds ${want}` });
  }
  if (counters !== perSubject.size) add({ kind: 'counter', message: `${counters} subject counters; the records name ${perSubject.size} subjects` });
  const expect = (name: string, got: number, want: number): void => {
    if (got !== want) add({ kind: 'missing-index', message: `${name} index has ${got} entries; the records need ${want}` });
  };
  expect('subject', seen.subject, subjects);
  expect('issuer', seen.issuer, facts.size);
  expect('arrival', seen.seq, facts.size);
  expect('retraction', seen.retraction, retractions);
  expect('time', seen.time, facts.size);
  expect('subject-issuer', seen.subjectIssuer, subjects);
  expect('expiry', seen.expiry, expiring);
  expect('endorsement', seen.endorsement, endorsements);
  expect('derived', seen.derived, bases);
  if (store.size !== records) add({ kind: 'counter', message: `count says ${store.size}, the store holds ${records}` });
  for (const [issuer, u] of usage) {
    const stored = await store.issuerBytes(issuer);
    if (stored !== u.bytes) add({ kind: 'counter', message: `usage of ${issuer} says ${stored} bytes, records add up to ${u.bytes}` });
  }
  return { records, indexEntries, problems, ok: problems.length === 0 };
}
