import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { ChorusError } from '../../src/errors.js';
import type { IngestStoreView } from '../../src/ingest/decide.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import type { PredicateKind, RetractionPredicate } from '../../src/statement/predicates.js';
import { decodeRecord, encodeRecord, recordEnvelopeJson, type StoredAttestation } from './record.js';

export type { StoredAttestation };
import { hex32, key, metaKey, P, readU64, u64, upperBound } from './keys.js';

/** `level` re-exports classic-level on Node, which also has getSync; its typings omit it. */
type DB = Level<Buffer, Buffer> & { getSync(key: Buffer): Buffer | undefined };

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `after` for the next page; undefined at the end. */
  readonly next: number | undefined;
}

const SCHEMA_VERSION = '3';

/** Up to this many records are read synchronously (see getIds). */
const SYNC_READ_MAX = 64;

/**
 * The replicated local store on LevelDB. One process owns it (LevelDB's lock); every
 * accepted attestation lands in one atomic batch with all its index entries, so a crash
 * can never leave an index pointing at nothing.
 */
export class AttestationStore implements IngestStoreView {
  private seq = 0;
  private count = 0;
  private readonly usage = new Map<string, { bytes: number; count: number }>();

  private constructor(private readonly db: DB, readonly location: string) {}

  /** Opens (creating if needed) the store at `location`. */
  static async open(location: string): Promise<AttestationStore> {
    const db = new Level<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as DB;
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      if (/lock/i.test(cause)) {
        throw new ChorusError('store_locked', `the store at ${location} is in use by another chorus process (is a node running?)`);
      }
      throw new ChorusError('io_error', `cannot open the store at ${location}: ${cause}`);
    }
    const store = new AttestationStore(db, location);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    const version = await this.db.get(metaKey('schema'));
    if (version === undefined) await this.db.put(metaKey('schema'), Buffer.from(SCHEMA_VERSION));
    else if (version.toString() !== SCHEMA_VERSION) {
      throw new ChorusError('io_error', `store schema ${version.toString()} is not supported (expected ${SCHEMA_VERSION})`);
    }
    for await (const k of this.db.keys({ gte: key(P.seq), lt: key(P.seq + 1), reverse: true, limit: 1 })) {
      this.seq = readU64(k, 1);
    }
    const c = await this.db.get(metaKey('count'));
    this.count = c === undefined ? 0 : readU64(c);
  }

  /** Number of attestations stored. */
  get size(): number {
    return this.count;
  }

  /** The highest arrival sequence number assigned so far. */
  get lastSeq(): number {
    return this.seq;
  }

  async has(id: string): Promise<boolean> {
    return (await this.db.get(key(P.record, hex32(id)))) !== undefined;
  }

  /** Which of the ids are stored, in one round trip. */
  async hasMany(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const values = await this.db.getMany(ids.map((id) => key(P.record, hex32(id))));
    return values.map((v) => v !== undefined);
  }

  async lookup(id: string): Promise<{ issuer: string; kind: PredicateKind | undefined } | undefined> {
    const a = await this.get(id);
    return a === undefined ? undefined : { issuer: a.issuer, kind: a.kind };
  }

  async issuerBytes(issuer: string): Promise<number> {
    return (await this.usageOf(issuer)).bytes;
  }

  private async usageOf(issuer: string): Promise<{ bytes: number; count: number }> {
    let u = this.usage.get(issuer);
    if (u === undefined) {
      const pub = publicKeyFromDidKey(issuer);
      const v = pub === undefined ? undefined : await this.db.get(key(P.usage, pub));
      u = v === undefined ? { bytes: 0, count: 0 } : { bytes: readU64(v, 0), count: v.readUInt32BE(8) };
      this.usage.set(issuer, u);
    }
    return u;
  }

  async get(id: string): Promise<StoredAttestation | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const v = await this.db.get(key(P.record, hex32(id)));
    return v === undefined ? undefined : decodeRecord(id, v);
  }

  private async getIds(ids: Buffer[]): Promise<StoredAttestation[]> {
    if (ids.length === 0) return [];
    // A few records: synchronous reads (served from LevelDB's block cache in microseconds)
    // beat a round trip through the threadpool. Many: one batched async read.
    if (ids.length <= SYNC_READ_MAX) {
      const out: StoredAttestation[] = [];
      for (const id of ids) {
        const v = this.db.getSync(key(P.record, id));
        if (v !== undefined) out.push(decodeRecord(id.toString('hex'), v));
      }
      return out;
    }
    const values = await this.db.getMany(ids.map((id) => key(P.record, id)));
    const out: StoredAttestation[] = [];
    values.forEach((v, i) => {
      if (v !== undefined) out.push(decodeRecord((ids[i] as Buffer).toString('hex'), v));
    });
    return out;
  }

  /**
   * Stores accepted attestations: one atomic LevelDB batch holding, for each, the record
   * and every index entry, plus the updated counters. Returns the assigned sequence numbers.
   * The caller guarantees the batch holds no id twice and none already stored.
   */
  async putAccepted(atts: readonly VerifiedAttestation[], receivedAt: number): Promise<number[]> {
    if (atts.length === 0) return [];
    const ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
    const seqs: number[] = [];
    let seq = this.seq;
    const touched = new Map<string, { bytes: number; count: number }>();
    for (const a of atts) {
      seq += 1;
      seqs.push(seq);
      const id = hex32(a.id);
      const s = u64(seq);
      const issuerKey = Buffer.from(a.issuerKey);
      ops.push({ type: 'put', key: key(P.record, id), value: encodeRecord(a, seq, receivedAt) });
      for (const d of a.subjects) ops.push({ type: 'put', key: key(P.subject, hex32(d), s), value: id });
      ops.push({ type: 'put', key: key(P.issuer, issuerKey, s), value: id });
      ops.push({ type: 'put', key: key(P.seq, s), value: id });
      ops.push({ type: 'put', key: key(P.time, u64(Math.floor(a.issuedAt / 1000)), id), value: Buffer.alloc(0) });
      if (a.kind === 'retraction') {
        const target = (a.statement.predicate as RetractionPredicate).target;
        ops.push({ type: 'put', key: key(P.retraction, hex32(target), id), value: Buffer.alloc(0) });
      }
      const before = touched.get(a.issuer) ?? (await this.usageOf(a.issuer));
      touched.set(a.issuer, { bytes: before.bytes + a.envelopeBytes.length, count: before.count + 1 });
    }
    for (const [issuer, u] of touched) {
      const v = Buffer.alloc(12);
      v.writeBigUInt64BE(BigInt(u.bytes), 0);
      v.writeUInt32BE(u.count, 8);
      ops.push({ type: 'put', key: key(P.usage, Buffer.from(publicKeyFromDidKey(issuer) as Uint8Array)), value: v });
    }
    ops.push({ type: 'put', key: metaKey('count'), value: u64(this.count + atts.length) });
    await this.db.batch(ops, { sync: true });
    this.seq = seq;
    this.count += atts.length;
    for (const [issuer, u] of touched) this.usage.set(issuer, u);
    return seqs;
  }

  /** Attestations about a subject digest, in arrival order. */
  async bySubject(digest: string, opts: { after?: number; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.subject, hex32(digest)), opts);
  }

  /**
   * Envelope JSON of the attestations about a subject, in arrival order, a page at a time:
   * what a peer asking "what do you hold about this digest" is sent (no decoding).
   */
  async subjectEnvelopes(digest: string, { after = 0, limit }: { after?: number; limit: number }): Promise<{ envelopes: string[]; next: number | undefined }> {
    const prefix = key(P.subject, hex32(digest));
    const entries = await this.db.iterator({ gt: Buffer.concat([prefix, u64(after)]), lt: upperBound(prefix), limit: limit + 1 }).all();
    const more = entries.length > limit;
    const taken = more ? entries.slice(0, limit) : entries;
    const last = taken.at(-1);
    return {
      envelopes: await this.envelopes(taken.map(([, v]) => v.toString('hex'))),
      next: more && last ? readU64(last[0], last[0].length - 8) : undefined,
    };
  }

  /** Every subject digest the store holds attestations about, each once, in digest order. */
  async *subjects(): AsyncGenerator<string> {
    let last: Buffer | undefined;
    for await (const k of this.db.keys({ gt: key(P.subject), lt: key(P.subject + 1) })) {
      const d = k.subarray(1, 33);
      if (last && d.equals(last)) continue;
      last = Buffer.from(d);
      yield last.toString('hex');
    }
  }

  /** Attestations by an issuer, in arrival order. */
  async byIssuer(issuer: string, opts: { after?: number; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    const pub = publicKeyFromDidKey(issuer);
    if (pub === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: ${issuer}`);
    return this.page(key(P.issuer, Buffer.from(pub)), opts);
  }

  /** Every attestation in arrival order after sequence `after`. */
  async bySeq(opts: { after?: number; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.seq), opts);
  }

  private async page(prefix: Buffer, { after = 0, limit = Infinity }: { after?: number; limit?: number }): Promise<Page<StoredAttestation>> {
    // One native call for the index range (limit + 1 tells whether there is more).
    const entries = await this.db
      .iterator({ gt: Buffer.concat([prefix, u64(after)]), lt: upperBound(prefix), ...(Number.isFinite(limit) ? { limit: limit + 1 } : {}) })
      .all();
    const more = entries.length > limit;
    const taken = more ? entries.slice(0, limit) : entries;
    const last = taken.at(-1);
    return {
      items: await this.getIds(taken.map(([, v]) => v)),
      next: more && last ? readU64(last[0], last[0].length - 8) : undefined,
    };
  }

  /** Ids of the retractions that target `id`. */
  async retractionsOf(id: string): Promise<string[]> {
    const prefix = key(P.retraction, hex32(id));
    const out: string[] = [];
    for await (const k of this.db.keys({ gt: prefix, lt: upperBound(prefix) })) out.push(k.subarray(33).toString('hex'));
    return out;
  }

  /** Every (issuedAt seconds, id) pair, in order: what catch-up sync reconciles. */
  async *timeKeys(): AsyncGenerator<{ t: number; id: string }> {
    for await (const k of this.db.keys({ gte: key(P.time), lt: key(P.time + 1) })) {
      yield { t: readU64(k, 1), id: k.subarray(9).toString('hex') };
    }
  }

  /** Canonical envelope JSON of stored attestations (missing ids are skipped). */
  async envelopes(ids: readonly string[]): Promise<string[]> {
    const values = await this.db.getMany(ids.map((id) => key(P.record, hex32(id))));
    const out: string[] = [];
    for (const v of values) {
      const json = v === undefined ? undefined : recordEnvelopeJson(v);
      if (json !== undefined) out.push(json);
    }
    return out;
  }

  /** Every record, raw, for verify-store. */
  async *records(): AsyncGenerator<{ id: string; value: Buffer }> {
    for await (const [k, v] of this.db.iterator({ gte: key(P.record), lt: key(P.record + 1) })) {
      yield { id: k.subarray(1).toString('hex'), value: v };
    }
  }

  /** Every index entry of one kind, raw, for verify-store. */
  async *indexEntries(prefix: number): AsyncGenerator<{ key: Buffer; value: Buffer }> {
    for await (const [k, v] of this.db.iterator({ gte: key(prefix), lt: key(prefix + 1) })) yield { key: k, value: v };
  }

  /** Bytes the store's files take on disk. */
  async diskBytes(): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.location)) total += (await stat(join(this.location, name))).size;
    return total;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
