import { createHash } from 'node:crypto';
import { ChorusError } from '../../src/errors.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { parseEnvelope, verifyParsed } from '../../src/ingest/verify-envelope.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import { factsOf, type AttestationStore } from './attestation-store.js';
import { indexKeys } from './index-entries.js';
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

/** Where a long check is: the phase and how many items of it are done. */
export type VerifyProgress = (done: number, phase: 'records' | 'indexes' | 'locating') => void;

/** The indexes every record's entries go to (index-entries.ts), each with its name in reports. */
const INDEXES: readonly [number, string][] = [
  [P.subject, 'subject'], [P.issuer, 'issuer'], [P.seq, 'arrival'], [P.retraction, 'retraction'], [P.time, 'time'],
  [P.subjectIssuer, 'subject-issuer'], [P.expiry, 'expiry'], [P.endorsement, 'endorsement'], [P.derived, 'derived'],
];

/** Records checked at once (their signatures on the node's signature workers). */
const BATCH = 256;
const LANE = 2 ** 48;

/**
 * An order-free digest of a set of index entries: their count and two sums (mod 2^48) of
 * 48-bit slices of each entry's SHA-256. Two sets with equal tallies are the same set but
 * with a chance of 2^-96; the tally of a set is the same whatever order it is read in.
 */
class Tally {
  count = 0;
  private a = 0;
  private b = 0;

  add(key: Buffer, value: Buffer): void {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(key.length);
    const h = createHash('sha256').update(length).update(key).update(value).digest();
    this.a = (this.a + h.readUIntBE(0, 6)) % LANE;
    this.b = (this.b + h.readUIntBE(6, 6)) % LANE;
    this.count++;
  }

  equals(other: Tally): boolean {
    return this.count === other.count && this.a === other.a && this.b === other.b;
  }
}

/**
 * Re-checks every stored envelope (schema, signature, id) and every index entry: each index
 * holds exactly the entries its records need (index-entries.ts), the per-subject counters
 * match the subject index, each issuer's usage matches the sizes in its index entries.
 *
 * It streams, in memory bounded whatever the store's size (issue 25): one pass over the
 * records adds each one's expected entries to an order-free tally per index, one pass over
 * each index adds what it holds; equal tallies mean equal sets. Only an index whose tallies
 * differ is read again, to name its entries that point at nothing right (a record missing,
 * damaged or not matching) and the records that miss an entry there, by point reads.
 */
export async function verifyStore(store: AttestationStore, suite: CryptoSuite, opts: { onProgress?: VerifyProgress; maxProblems?: number } = {}): Promise<StoreReport> {
  const max = opts.maxProblems ?? 100;
  const problems: StoreProblem[] = [];
  const add = (p: StoreProblem): void => {
    if (problems.length < max) problems.push(p);
  };
  const progress = opts.onProgress ?? ((): void => undefined);

  // 1. The records: each checked, its expected index entries tallied.
  const expected = new Map(INDEXES.map(([prefix]) => [prefix, new Tally()]));
  let records = 0;
  let batch: { id: string; value: Buffer }[] = [];
  const checkBatch = async (): Promise<void> => {
    const checked = await Promise.all(batch.map(({ id, value }) => checkRecord(id, value, suite)));
    for (const c of checked) {
      if ('problem' in c) {
        add(c.problem);
        continue;
      }
      for (const entry of c.entries) expected.get(entry.key[0] as number)?.add(entry.key, entry.value);
    }
    records += batch.length;
    batch = [];
    progress(records, 'records');
  };
  for await (const record of store.records()) {
    batch.push(record);
    if (batch.length >= BATCH) await checkBatch();
  }
  if (batch.length > 0) await checkBatch();

  // 2. Each index as it is, tallied; the counters and usage checked on the way.
  let indexEntries = 0;
  const differing: [number, string][] = [];
  for (const [prefix, name] of INDEXES) {
    const actual = new Tally();
    const runs = prefix === P.subject ? new SubjectRuns(store, add) : prefix === P.issuer ? new IssuerRuns(store, add) : undefined;
    for await (const { key, value } of store.indexEntries(prefix)) {
      actual.add(key, value);
      await runs?.entry(key, value);
      if (++indexEntries % 100_000 === 0) progress(indexEntries, 'indexes');
    }
    await runs?.end();
    if (runs instanceof SubjectRuns) {
      let counters = 0;
      for await (const _ of store.indexEntries(P.subjectCount)) counters++;
      indexEntries += counters;
      if (counters !== runs.subjects) add({ kind: 'counter', message: `${counters} subject counters; the records name ${runs.subjects} subjects` });
    }
    const want = expected.get(prefix) as Tally;
    if (!actual.equals(want)) {
      differing.push([prefix, name]);
      if (actual.count !== want.count) add({ kind: 'missing-index', message: `${name} index has ${actual.count} entries; the records need ${want.count}` });
    }
  }
  if (store.size !== records) add({ kind: 'counter', message: `count says ${store.size}, the store holds ${records}` });

  // 3. Only where an index differs from its records: which entries, which records.
  for (const [prefix, name] of differing) await locate(store, suite, prefix, name, add, () => problems.length >= max, progress);
  return { records, indexEntries, problems, ok: problems.length === 0 };
}

/** One record checked: its index entries, or why it is not a valid record. */
async function checkRecord(id: string, value: Buffer, suite: CryptoSuite): Promise<{ entries: { key: Buffer; value: Buffer }[] } | { problem: StoreProblem }> {
  const envelope = recordEnvelopeJson(value);
  if (envelope === undefined) return { problem: { kind: 'bad-record', id, message: 'record is truncated or damaged' } };
  let att: VerifiedAttestation;
  try {
    att = await verifyParsed(parseEnvelope(envelope, { maxEnvelopeBytes: Number.MAX_SAFE_INTEGER }), suite);
  } catch (e) {
    const code = e instanceof ChorusError ? e.code : 'bad_input';
    return { problem: { kind: code === 'bad_signature' ? 'bad-signature' : 'bad-record', id, message: `${code}: ${(e as Error).message}` } };
  }
  if (att.id !== id) return { problem: { kind: 'bad-record', id, message: `record is stored under ${id} but its id is ${att.id}` } };
  return { entries: indexKeys(factsOf(att, recordSeq(value), envelope.length)) };
}

/** The subject index read in order: per subject, its entries against its stored counter. */
class SubjectRuns {
  subjects = 0;
  private current: string | undefined;
  private n = 0;

  constructor(
    private readonly store: AttestationStore,
    private readonly add: (p: StoreProblem) => void,
  ) {}

  async entry(key: Buffer): Promise<void> {
    const { subject } = decodeKey.subject(key);
    if (subject !== this.current) await this.end();
    this.current = subject;
    this.n++;
  }

  async end(): Promise<void> {
    if (this.current === undefined) return;
    this.subjects++;
    const counted = await this.store.subjectCount(this.current);
    if (counted !== this.n) this.add({ kind: 'counter', message: `count of ${this.current} says ${counted}, the store holds ${this.n}` });
    this.current = undefined;
    this.n = 0;
  }
}

/** The issuer index read in order: per issuer, the sizes in its entries against its stored usage. */
class IssuerRuns {
  private current: string | undefined;
  private bytes = 0;

  constructor(
    private readonly store: AttestationStore,
    private readonly add: (p: StoreProblem) => void,
  ) {}

  async entry(key: Buffer, value: Buffer): Promise<void> {
    const { issuerKey } = decodeKey.issuer(key);
    if (issuerKey !== this.current) await this.end();
    this.current = issuerKey;
    this.bytes += indexValue.issuer(value).bytes ?? 0;
  }

  async end(): Promise<void> {
    if (this.current === undefined) return;
    const issuer = didKeyFromPublicKey(Buffer.from(this.current, 'hex'));
    const stored = this.store.issuerBytes(issuer);
    if (stored !== this.bytes) this.add({ kind: 'counter', message: `usage of ${issuer} says ${stored} bytes, records add up to ${this.bytes}` });
    this.current = undefined;
    this.bytes = 0;
    await Promise.resolve();
  }
}

/** The attestation id an index entry points at. */
function entryId(prefix: number, key: Buffer, value: Buffer): string {
  switch (prefix) {
    case P.issuer: return indexValue.issuer(value).id;
    case P.retraction: return decodeKey.retraction(key).retraction;
    case P.time: return decodeKey.time(key).id;
    case P.expiry: return decodeKey.expiry(key).id;
    default: return indexValue.id(value).toString('hex');
  }
}

/**
 * An index whose entries differ from what its records need: each entry is checked against
 * the record it names (a point read), then each record's entries there are looked up.
 * Memory stays bounded; the time is a point read per entry and per record.
 */
async function locate(store: AttestationStore, suite: CryptoSuite, prefix: number, name: string, add: (p: StoreProblem) => void, full: () => boolean, progress: VerifyProgress): Promise<void> {
  let done = 0;
  for await (const { key, value } of store.indexEntries(prefix)) {
    if (full()) return;
    const id = entryId(prefix, key, value);
    const record = store.rawRecord(id);
    const checked = record === undefined ? undefined : await checkRecord(id, record, suite);
    const needed = checked !== undefined && 'entries' in checked && checked.entries.some((e) => e.key.equals(key) && e.value.equals(value));
    if (!needed) add({ kind: 'dangling-index', id, message: `${name} index entry does not match a record` });
    if (++done % 10_000 === 0) progress(done, 'locating');
  }
  for await (const { id, value } of store.records()) {
    if (full()) return;
    const checked = await checkRecord(id, value, suite);
    if (!('entries' in checked)) continue;
    for (const e of checked.entries) {
      if (e.key[0] !== prefix) continue;
      if (!store.rawIndex(e.key)?.equals(e.value)) add({ kind: 'missing-index', id, message: `the ${name} index lacks an entry of this record` });
    }
    if (++done % 10_000 === 0) progress(done, 'locating');
  }
}
