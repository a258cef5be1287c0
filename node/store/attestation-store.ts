import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { ChorusError } from '../../src/errors.js';
import type { IngestStoreView } from '../../src/ingest/decide.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../src/identity/did-key.js';
import type { PredicateKind, RetractionPredicate } from '../../src/statement/predicates.js';
import { decodeRecord, encodeRecord, recordEnvelopeJson, type StoredAttestation } from './record.js';
import { freeBytes, FULL_POLL_MS, isNoSpace, REOPEN_BACKOFF_MAX_MS, REOPEN_FREE_BYTES } from './disk-full.js';
import { indexKeys, lineageBases, type IndexFacts } from './index-entries.js';
import { decodeKey, hex32, indexValue, key, metaKey, P, readU64, u32, u64, upperBound } from './keys.js';

export type { StoredAttestation };

/** What left the store (evicted or collected): enough for the sync set and caches to drop it. */
export interface Removed {
  readonly id: string;
  readonly issuer: string;
  /** issuedAt, epoch seconds: the sync key. */
  readonly t: number;
  readonly subjects: readonly string[];
}

/** Why attestations left: evicted for a newcomer (stranger pool) or collected after expiry. */
export type RemovalReason = 'evict' | 'gc';

/**
 * What an issuer has stored, and the strangers' pool group (SPEC §14.3) of the origin that
 * first brought it: undefined for issuers stored before groups were recorded.
 */
export interface IssuerUsage {
  readonly bytes: number;
  readonly count: number;
  readonly group: string | undefined;
}

/** A batch LevelDB refused for lack of space: what to check for after the reopen (see recover). */
interface Refused {
  readonly puts: readonly string[];
  readonly removed: readonly Removed[];
}

/** The store while its disk is full. */
interface Full {
  readonly refused: Refused[];
  /** No reopen before this time (epoch ms). */
  notBefore: number;
}


/** What an attestation's index entries are made from (verify-store computes them the same way). */
export function factsOf(a: StoredAttestation | VerifiedAttestation, seq: number, bytes: number): IndexFacts {
  const subjects = 'subjects' in a ? a.subjects : [...new Set(a.statement.subject.map((s) => s.digest.sha256))];
  return {
    id: a.id,
    seq,
    subjects,
    issuerKey: publicKeyFromDidKey(a.issuer) as Uint8Array,
    issuedAt: a.issuedAt,
    expiresAt: a.expiresAt,
    retracts: a.kind === 'retraction' ? (a.statement.predicate as RetractionPredicate).target : undefined,
    bytes,
    endorsement: a.kind === 'endorsement',
    bases: lineageBases(a),
  };
}


/** `level` re-exports classic-level on Node, which also has getSync; its typings omit it. */
type DB = Level<Buffer, Buffer> & { getSync(key: Buffer): Buffer | undefined };

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `after` (or `before`, newest first) for the next page; undefined at the end. */
  readonly next: number | undefined;
}

const SCHEMA_VERSION = '5';

const noSpace = (): ChorusError => new ChorusError('storage_full', 'the disk is full: nothing was stored; free space and retry');

/** Up to this many records are read synchronously (see getIds). */
const SYNC_READ_MAX = 64;

/** The index key of an issuer: its public key. A query by something that is not an Ed25519 did:key is `bad_input`, whichever index it asks. */
function issuerKeyOf(issuer: string): Buffer {
  const pub = publicKeyFromDidKey(issuer);
  if (pub === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${issuer.slice(0, 100)}"`);
  return Buffer.from(pub);
}

/**
 * The replicated local store on LevelDB. One process owns it (LevelDB's lock); every
 * accepted attestation lands in one atomic batch with all its index entries, so a crash
 * can never leave an index pointing at nothing.
 */
export class AttestationStore implements IngestStoreView {
  private seq = 0;
  private count = 0;
  /** Every issuer's usage, all in memory (loaded at open): quota, stranger pool, eviction. */
  private readonly usage = new Map<string, IssuerUsage>();
  private readonly removedListeners = new Set<(removed: readonly Removed[], reason: RemovalReason) => void>();
  /** Writes are serialised: each reads counters (seq, usage, subject counts) it then updates. */
  private writing: Promise<unknown> = Promise.resolve();
  /** Set from a write that ran out of space until the store is reopened (see recover). */
  private full: Full | undefined;
  private readonly fullListeners = new Set<(full: boolean) => void>();
  private watcher: NodeJS.Timeout | undefined;
  private recovering = false;
  /** How long after running out of space the next reopen waits: 0 at first, longer each time a reopen did not hold. */
  private backoffMs = 0;
  private reopenCount = 0;
  /** Set while the database is closed and opened again (recover): reads wait for it. */
  private reopening: Promise<void> | undefined;
  /** Reads in flight: a reopen waits until they are done. */
  private reads = 0;
  private readsDone: (() => void) | undefined;

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
    try {
      await store.load();
    } catch (e) {
      await db.close();
      throw e;
    }
    return store;
  }

  private async load(): Promise<void> {
    const version = (await this.db.get(metaKey('schema')))?.toString();
    if (version === '3' || version === '4') await this.rebuildIndexes();
    else if (version === undefined) await this.db.put(metaKey('schema'), Buffer.from(SCHEMA_VERSION));
    else if (version !== SCHEMA_VERSION) {
      throw new ChorusError('io_error', `store schema ${version} is not supported (expected ${SCHEMA_VERSION})`);
    }
    await this.loadCounters();
  }

  /** The counters kept in memory (last sequence, count, every issuer's usage), read from disk. */
  private async loadCounters(): Promise<void> {
    let seq = 0;
    for await (const k of this.db.keys({ gte: key(P.seq), lt: key(P.seq + 1), reverse: true, limit: 1 })) seq = decodeKey.seq(k).seq;
    const c = await this.db.get(metaKey('count'));
    const usage = new Map<string, IssuerUsage>();
    for await (const [k, v] of this.db.iterator({ gt: key(P.usage), lt: key(P.usage + 1) })) {
      usage.set(didKeyFromPublicKey(decodeKey.usage(k).issuerKey), indexValue.usage(v));
    }
    // Swapped in at once: a reader of the live usage view never sees it half loaded.
    this.seq = seq;
    this.count = c === undefined ? 0 : readU64(c);
    this.usage.clear();
    for (const [issuer, u] of usage) this.usage.set(issuer, u);
  }

  /**
   * Schema 3 or 4 -> 5: every index written again from the records (puts of what exists
   * change nothing; 4 added subject-issuer, expiry and subject counts, 5 the derived index).
   */
  private async rebuildIndexes(): Promise<void> {
    let ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
    const counts = new Map<string, number>();
    for await (const [k, v] of this.db.iterator({ gte: key(P.record), lt: key(P.record + 1) })) {
      const a = decodeRecord(decodeKey.record(k).id, v);
      const f = factsOf(a, a.seq, Buffer.byteLength(recordEnvelopeJson(v) ?? ''));
      for (const e of indexKeys(f)) ops.push({ type: 'put', ...e });
      for (const d of f.subjects) counts.set(d, (counts.get(d) ?? 0) + 1);
      if (ops.length >= 10_000) {
        await this.db.batch(ops);
        ops = [];
      }
    }
    for (const [d, n] of counts) ops.push({ type: 'put', key: key(P.subjectCount, hex32(d)), value: u32(n) });
    ops.push({ type: 'put', key: metaKey('schema'), value: Buffer.from(SCHEMA_VERSION) });
    await this.db.batch(ops, { sync: true });
  }

  /** Number of attestations stored. */
  get size(): number {
    return this.count;
  }

  /** The highest arrival sequence number assigned so far. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Hears every eviction and garbage collection, after it is written. */
  onRemoved(listener: (removed: readonly Removed[], reason: RemovalReason) => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  /** How many issuers have something stored. */
  get issuerCount(): number {
    return this.usage.size;
  }

  /** Every issuer with something stored, and its usage (a live view: do not keep). */
  usageEntries(): IterableIterator<[string, IssuerUsage]> {
    return this.usage.entries();
  }

  /** The pool group recorded for an issuer when it was first stored (undefined: none stored, or stored before groups). */
  issuerGroup(issuer: string): string | undefined {
    return this.usage.get(issuer)?.group;
  }

  async has(id: string): Promise<boolean> {
    return (await this.read((db) => db.get(key(P.record, hex32(id))))) !== undefined;
  }

  /** Which of the ids are stored, in one round trip. */
  async hasMany(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    // A group commit's few (a publish, a gossip message): synchronous reads, no round trip
    // through the threadpool (which took 2 ms of a 16-publish group's commit), as in getIds.
    if (ids.length <= SYNC_READ_MAX) return this.read((db) => ids.map((id) => db.getSync(key(P.record, hex32(id))) !== undefined));
    const values = await this.read((db) => db.getMany(ids.map((id) => key(P.record, hex32(id)))));
    return values.map((v) => v !== undefined);
  }

  async lookup(id: string): Promise<{ issuer: string; kind: PredicateKind | undefined } | undefined> {
    const a = await this.get(id);
    return a === undefined ? undefined : { issuer: a.issuer, kind: a.kind };
  }

  /** What an issuer has stored here. */
  issuerUsage(issuer: string): { attestations: number; bytes: number } {
    const u = this.usageOf(issuer);
    return { attestations: u.count, bytes: u.bytes };
  }

  issuerBytes(issuer: string): number {
    return this.usageOf(issuer).bytes;
  }

  private usageOf(issuer: string): IssuerUsage {
    return this.usage.get(issuer) ?? { bytes: 0, count: 0, group: undefined };
  }

  async get(id: string): Promise<StoredAttestation | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const v = await this.read((db) => db.get(key(P.record, hex32(id))));
    return v === undefined ? undefined : decodeRecord(id, v);
  }

  private async getIds(ids: Buffer[]): Promise<StoredAttestation[]> {
    if (ids.length === 0) return [];
    // A few records: synchronous reads (served from LevelDB's block cache in microseconds)
    // beat a round trip through the threadpool. Many: one batched async read.
    if (ids.length <= SYNC_READ_MAX) {
      return this.read((db) => {
        const out: StoredAttestation[] = [];
        for (const id of ids) {
          const v = db.getSync(key(P.record, id));
          if (v !== undefined) out.push(decodeRecord(id.toString('hex'), v));
        }
        return out;
      });
    }
    const values = await this.read((db) => db.getMany(ids.map((id) => key(P.record, id))));
    const out: StoredAttestation[] = [];
    values.forEach((v, i) => {
      if (v !== undefined) out.push(decodeRecord((ids[i] as Buffer).toString('hex'), v));
    });
    return out;
  }

  /**
   * Stores accepted attestations and removes `remove` (evicted ids) in one atomic LevelDB
   * batch holding, for each, the record and every index entry, plus the updated counters.
   * Returns the assigned sequence numbers. The caller guarantees the batch holds no id twice
   * and none already stored. A full disk is a `storage_full` error; nothing is written.
   * `groups` names the pool group of issuers this batch stores first (kept while the issuer
   * has anything stored; an issuer already stored keeps its group).
   */
  async putAccepted(atts: readonly VerifiedAttestation[], receivedAt: number, remove: readonly string[] = [], reason: RemovalReason = 'evict', groups?: ReadonlyMap<string, string>): Promise<number[]> {
    return (await this.serialised(atts, receivedAt, remove, reason, groups)).seqs;
  }

  /** Removes attestations (and every index entry of theirs) in one atomic batch; returns how many were stored. */
  async remove(ids: readonly string[], reason: RemovalReason = 'gc'): Promise<number> {
    return (await this.serialised([], Date.now(), ids, reason)).removed;
  }

  private serialised(atts: readonly VerifiedAttestation[], receivedAt: number, remove: readonly string[], reason: RemovalReason, groups?: ReadonlyMap<string, string>): Promise<{ seqs: number[]; removed: number }> {
    if (atts.length === 0 && remove.length === 0) return Promise.resolve({ seqs: [], removed: 0 });
    return this.queued(async () => {
      if (this.full !== undefined && !(await this.recover())) throw noSpace();
      return this.write(atts, receivedAt, remove, reason, true, groups);
    });
  }

  /**
   * Runs one read against the database, waiting out a reopen (recover) instead of failing
   * on a closed database. `f` must make its calls at once and call no other gated read.
   * The generators (timeKeys, records, ...) are not gated: a long walk would hold a reopen
   * up, so one running across a reopen fails and its caller tries again.
   */
  private async read<T>(f: (db: DB) => Promise<T> | T): Promise<T> {
    while (this.reopening !== undefined) await this.reopening;
    this.reads++;
    try {
      return await f(this.db);
    } finally {
      if (--this.reads === 0) this.readsDone?.();
    }
  }

  /** Closes and opens the database again, with reads held at the gate (see read). */
  private async reopen(): Promise<void> {
    let open!: () => void;
    this.reopening = new Promise<void>((resolve) => (open = resolve));
    try {
      if (this.reads > 0) await new Promise<void>((resolve) => (this.readsDone = resolve));
      this.readsDone = undefined;
      // When a previous open failed, close() has nothing to do.
      await this.db.close();
      await this.db.open();
    } finally {
      this.reopening = undefined;
      open();
    }
  }

  /** Runs `task` after every write queued before it (and before any queued after). */
  private queued<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writing.then(task);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Whether the last write ran out of disk space and the store has not recovered since. */
  get isFull(): boolean {
    return this.full !== undefined;
  }

  /** How many times the store was reopened to recover from a full disk. */
  get reopens(): number {
    return this.reopenCount;
  }

  /** Hears the store become full (a write ran out of space) and recover (reopened, writing again). */
  onFull(listener: (full: boolean) => void): () => void {
    this.fullListeners.add(listener);
    return () => this.fullListeners.delete(listener);
  }

  /**
   * LevelDB keeps a failed background write (a flush, a compaction) as an error every later
   * write returns, until the database is reopened, even once space is free again. So from
   * the first write that runs out of space, writes are refused without touching LevelDB
   * until the file system has REOPEN_FREE_BYTES free; then the database is closed and
   * opened again (in the write queue: no write is in flight), which replays its log. A
   * refused batch is atomic (one log record), but one whose log record reached the disk
   * before its sync failed is replayed by the reopen: it is deleted again, so a refusal
   * holds; removals it made are told to the listeners. The counters are then read again
   * from disk. Returns whether the store takes writes again.
   */
  private async recover(): Promise<boolean> {
    const full = this.full;
    if (full === undefined) return true;
    if (Date.now() < full.notBefore || (await freeBytes(this.location)) < REOPEN_FREE_BYTES) return false;
    try {
      await this.reopen();
      await this.loadCounters();
      const puts = full.refused.flatMap((r) => r.puts);
      const stored = await this.hasMany(puts);
      const replayed = puts.filter((_, i) => stored[i]);
      if (replayed.length > 0) await this.write([], Date.now(), replayed, 'gc', false);
      const removed = full.refused.flatMap((r) => r.removed);
      const still = await this.hasMany(removed.map((r) => r.id));
      // The pool did not apply an eviction it was told failed: 'gc' makes it recount.
      this.notifyRemoved(removed.filter((_, i) => !still[i]), 'gc');
    } catch {
      full.notBefore = Date.now() + Math.max(this.backoffMs, FULL_POLL_MS);
      return false;
    }
    this.full = undefined;
    this.reopenCount++;
    clearInterval(this.watcher);
    this.watcher = undefined;
    for (const l of this.fullListeners) l(false);
    return true;
  }

  private markFull(refused: Refused): void {
    if (this.full !== undefined) {
      this.full.refused.push(refused);
      return;
    }
    // A reopen that did not hold (a quota statfs does not see, a disk refilled at once) waits longer each time.
    this.full = { refused: [refused], notBefore: Date.now() + this.backoffMs };
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, FULL_POLL_MS), REOPEN_BACKOFF_MAX_MS);
    this.watcher = setInterval(() => {
      if (this.recovering) return;
      this.recovering = true;
      void this.queued(() => this.recover()).finally(() => (this.recovering = false));
    }, FULL_POLL_MS).unref();
    for (const l of this.fullListeners) l(true);
  }

  private notifyRemoved(removed: readonly Removed[], reason: RemovalReason): void {
    if (removed.length === 0) return;
    for (const l of this.removedListeners) {
      try {
        l(removed, reason);
      } catch {
        // a listener's failure must not fail a committed write
      }
    }
  }

  /** One atomic batch; `notify` false for the undoing of a replayed refusal, which nobody had heard of. */
  private async write(atts: readonly VerifiedAttestation[], receivedAt: number, remove: readonly string[], reason: RemovalReason, notify: boolean, groups?: ReadonlyMap<string, string>): Promise<{ seqs: number[]; removed: number }> {
    const ops: ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[] = [];
    const seqs: number[] = [];
    let seq = this.seq;
    const touched = new Map<string, IssuerUsage>();
    const subjectDelta = new Map<string, number>();
    const bump = (issuer: string, bytes: number, n: number): void => {
      const before = touched.get(issuer) ?? this.usage.get(issuer) ?? { bytes: 0, count: 0, group: groups?.get(issuer) };
      touched.set(issuer, { bytes: before.bytes + bytes, count: before.count + n, group: before.group });
    };
    for (const a of atts) {
      seq += 1;
      seqs.push(seq);
      ops.push({ type: 'put', key: key(P.record, hex32(a.id)), value: encodeRecord(a, seq, receivedAt) });
      for (const e of indexKeys(factsOf(a, seq, a.envelopeBytes.length))) ops.push({ type: 'put', ...e });
      for (const d of a.subjects) subjectDelta.set(d, (subjectDelta.get(d) ?? 0) + 1);
      bump(a.issuer, a.envelopeBytes.length, 1);
    }
    const removed: Removed[] = [];
    const values = remove.length === 0 ? [] : await this.db.getMany(remove.map((id) => key(P.record, hex32(id))));
    values.forEach((v, i) => {
      if (v === undefined) return;
      const id = remove[i] as string;
      const a = decodeRecord(id, v);
      const bytes = Buffer.byteLength(recordEnvelopeJson(v) ?? '');
      const f = factsOf(a, a.seq, bytes);
      ops.push({ type: 'del', key: key(P.record, hex32(id)) });
      for (const e of indexKeys(f)) ops.push({ type: 'del', key: e.key });
      for (const d of f.subjects) subjectDelta.set(d, (subjectDelta.get(d) ?? 0) - 1);
      bump(a.issuer, -bytes, -1);
      removed.push({ id, issuer: a.issuer, t: Math.floor(a.issuedAt / 1000), subjects: f.subjects });
    });
    for (const [issuer, u] of touched) {
      const k = key(P.usage, issuerKeyOf(issuer));
      if (u.count <= 0) ops.push({ type: 'del', key: k });
      else {
        ops.push({ type: 'put', key: k, value: indexValue.encodeUsage(u.bytes, u.count, u.group) });
      }
    }
    const subjects = [...subjectDelta.keys()];
    const before = subjects.length === 0 ? [] : await this.db.getMany(subjects.map((d) => key(P.subjectCount, hex32(d))));
    subjects.forEach((d, i) => {
      const n = (before[i] === undefined ? 0 : indexValue.count(before[i] as Buffer)) + (subjectDelta.get(d) as number);
      const k = key(P.subjectCount, hex32(d));
      ops.push(n > 0 ? { type: 'put', key: k, value: u32(n) } : { type: 'del', key: k });
    });
    const count = this.count + atts.length - removed.length;
    ops.push({ type: 'put', key: metaKey('count'), value: u64(count) });
    try {
      await this.db.batch(ops, { sync: true });
    } catch (e) {
      if (isNoSpace(e)) {
        this.markFull({ puts: atts.map((a) => a.id), removed: notify ? removed : [] });
        throw noSpace();
      }
      throw e;
    }
    this.backoffMs = 0;
    this.seq = seq;
    this.count = count;
    for (const [issuer, u] of touched) {
      if (u.count <= 0) this.usage.delete(issuer);
      else this.usage.set(issuer, u);
    }
    if (notify) this.notifyRemoved(removed, reason);
    return { seqs, removed: removed.length };
  }

  /**
   * An issuer's attestations, oldest arrival first, after arrival `after`, with their
   * envelope sizes (from the issuer index: no record is read).
   */
  async oldestOf(issuer: string, limit: number, after = 0): Promise<{ id: string; bytes: number; seq: number }[]> {
    const prefix = key(P.issuer, issuerKeyOf(issuer));
    const entries = await this.read((db) => db.iterator({ gt: Buffer.concat([prefix, u64(after)]), lt: upperBound(prefix), limit }).all());
    return entries.map(([k, v]) => {
      const { id, bytes } = indexValue.issuer(v);
      return { id, bytes: bytes ?? 0, seq: decodeKey.issuer(k).seq };
    });
  }

  /** Ids of attestations that expire at or before `beforeMs` (retractions never do), oldest expiry first. */
  async expiringBefore(beforeMs: number, limit: number): Promise<string[]> {
    const keys = await this.read((db) => db.keys({ gte: key(P.expiry), lt: key(P.expiry, u64(Math.floor(beforeMs / 1000) + 1)), limit }).all());
    return keys.map((k) => decodeKey.expiry(k).id);
  }

  /** Every (expiresAt seconds, id) pair, in expiry order: what the sync set leaves out once past. */
  async *expiryKeys(): AsyncGenerator<{ expiresAt: number; id: string }> {
    for await (const k of this.db.keys({ gte: key(P.expiry), lt: key(P.expiry + 1) })) {
      const e = decodeKey.expiry(k);
      yield { expiresAt: e.expiresAt * 1000, id: e.id };
    }
  }

  /** How many attestations are stored about a subject (any issuer), without reading them. */
  async subjectCount(digest: string): Promise<number> {
    const v = await this.read((db) => db.get(key(P.subjectCount, hex32(digest))));
    return v === undefined ? 0 : indexValue.count(v);
  }

  /** One issuer's newest `limit` attestations about a subject, newest first. */
  async newestBySubjectIssuer(digest: string, issuer: string, limit: number): Promise<StoredAttestation[]> {
    const prefix = key(P.subjectIssuer, hex32(digest), issuerKeyOf(issuer));
    const entries = await this.read((db) => db.iterator({ gt: prefix, lt: upperBound(prefix), reverse: true, limit }).all());
    return this.getIds(entries.map(([, v]) => v));
  }

  /**
   * The attestations about a subject by issuers in `issuerKeys` (public keys, hex), at most
   * `perIssuer` newest of each: one keys-only pass over the subject's (issuer, seq) index,
   * then a read of only the wanted records. The cheaper way when the issuers outnumber the
   * subject's attestations.
   */
  async bySubjectAmong(digest: string, issuerKeys: ReadonlySet<string>, perIssuer: number): Promise<StoredAttestation[]> {
    const prefix = key(P.subjectIssuer, hex32(digest));
    const ids: Buffer[] = [];
    let current = '';
    let taken = 0;
    // Newest first within each issuer: the index runs (issuer, seq), so read it backwards.
    await this.read(async (db) => {
      for await (const [k, v] of db.iterator({ gt: prefix, lt: upperBound(prefix), reverse: true })) {
        const { issuerKey: issuer } = decodeKey.subjectIssuer(k);
        if (issuer !== current) {
          current = issuer;
          taken = 0;
        }
        if (taken >= perIssuer || !issuerKeys.has(issuer)) continue;
        taken++;
        ids.push(v);
      }
    });
    return this.getIds(ids);
  }

  /** An issuer's newest `limit` endorsements, newest first. */
  async endorsementsBy(issuer: string, limit: number): Promise<StoredAttestation[]> {
    const prefix = key(P.endorsement, issuerKeyOf(issuer));
    const entries = await this.read((db) => db.iterator({ gt: prefix, lt: upperBound(prefix), reverse: true, limit }).all());
    return this.getIds(entries.map(([, v]) => v));
  }

  /** One issuer's attestations about a subject, in arrival order. */
  async bySubjectIssuer(digest: string, issuer: string, opts: { after?: number; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.subjectIssuer, hex32(digest), issuerKeyOf(issuer)), opts);
  }

  /** Attestations about a subject digest, in arrival order (with `before`: newest first, before it). */
  async bySubject(digest: string, opts: { after?: number; before?: number | undefined; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.subject, hex32(digest)), opts);
  }

  /**
   * Envelope JSON of the attestations about a subject, in arrival order, a page at a time:
   * what a peer asking "what do you hold about this digest" is sent (no decoding).
   */
  async subjectEnvelopes(digest: string, { after = 0, limit, maxBytes = Infinity }: { after?: number; limit: number; maxBytes?: number }): Promise<{ envelopes: string[]; next: number | undefined }> {
    const prefix = key(P.subject, hex32(digest));
    const entries = await this.read((db) => db.iterator({ gt: Buffer.concat([prefix, u64(after)]), lt: upperBound(prefix), limit: limit + 1 }).all());
    const taken = entries.slice(0, limit);
    const envelopes = await this.envelopes(taken.map(([, v]) => v.toString('hex')), maxBytes);
    // Cut short by size or by the limit: the page says where the next one starts.
    const more = envelopes.length < taken.length || entries.length > limit;
    const last = taken[envelopes.length - 1];
    return { envelopes, next: more && last ? decodeKey.subject(last[0]).seq : undefined };
  }

  /** Every subject digest the store holds attestations about, each once, in digest order. */
  async *subjects(): AsyncGenerator<string> {
    // One counter per subject: the subject-count index lists each digest once.
    for await (const k of this.db.keys({ gt: key(P.subjectCount), lt: key(P.subjectCount + 1) })) yield decodeKey.subjectCount(k).subject;
  }

  /** Attestations by an issuer, in arrival order (with `before`: newest first, before it). */
  async byIssuer(issuer: string, opts: { after?: number; before?: number | undefined; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.issuer, issuerKeyOf(issuer)), opts);
  }

  /** Every attestation in arrival order after sequence `after`. */
  async bySeq(opts: { after?: number; before?: number; limit?: number } = {}): Promise<Page<StoredAttestation>> {
    return this.page(key(P.seq), opts);
  }

  /** Lineage claims naming `base` as the model they derive from, the newest first. */
  async derivedFrom(base: string, limit: number): Promise<StoredAttestation[]> {
    const prefix = key(P.derived, hex32(base));
    const entries = await this.read((db) => db.iterator({ gt: prefix, lt: upperBound(prefix), reverse: true, limit }).all());
    return this.getIds(entries.map(([, v]) => indexValue.id(v)));
  }

  /**
   * The full id of the one stored attestation whose id starts with `prefix` (8 to 64 hex
   * characters): not_found when none does, bad_input when several do. One bounded seek.
   */
  async resolveId(prefix: string): Promise<string> {
    const p = prefix.trim().toLowerCase();
    if (!/^[0-9a-f]{8,64}$/.test(p)) {
      throw new ChorusError('bad_input', `not an attestation id: "${prefix.slice(0, 80)}" (expected 8 to 64 hex characters)`);
    }
    if (p.length === 64) {
      if (!(await this.has(p))) throw new ChorusError('not_found', `no attestation ${p} in this node's store`);
      return p;
    }
    const found = await this.read((db) => db
      .keys({ gte: key(P.record, hex32(p.padEnd(64, '0'))), lte: key(P.record, hex32(p.padEnd(64, 'f'))), limit: 2 })
      .all());
    if (found.length === 0) throw new ChorusError('not_found', `no attestation whose id starts with ${p} in this node's store`);
    if (found.length > 1) throw new ChorusError('bad_input', `the id prefix ${p} matches more than one attestation; give more characters`);
    return Buffer.from(found[0]!.subarray(1)).toString('hex');
  }

  private async page(prefix: Buffer, { after = 0, before, limit = Infinity }: { after?: number; before?: number | undefined; limit?: number }): Promise<Page<StoredAttestation>> {
    // One native call for the index range (limit + 1 tells whether there is more).
    // `before` pages newest first.
    const range = before === undefined
      ? { gt: Buffer.concat([prefix, u64(after)]), lt: upperBound(prefix) }
      : { gt: prefix, lt: Buffer.concat([prefix, u64(before)]), reverse: true };
    const entries = await this.read((db) => db
      .iterator({ ...range, ...(Number.isFinite(limit) ? { limit: limit + 1 } : {}) })
      .all());
    const more = entries.length > limit;
    const taken = more ? entries.slice(0, limit) : entries;
    const last = taken.at(-1);
    return {
      items: await this.getIds(taken.map(([, v]) => indexValue.id(v))),
      next: more && last ? decodeKey.trailingSeq(last[0]) : undefined,
    };
  }

  /** Whether `issuer` retracted `id` (a retraction by anyone else withdraws nothing, SPEC §9). */
  async retractedBy(id: string, issuer: string): Promise<boolean> {
    const ids = await this.retractionsOf(id);
    if (ids.length === 0) return false;
    const values = await this.read((db) => db.getMany(ids.map((r) => key(P.record, hex32(r)))));
    return values.some((v, i) => v !== undefined && decodeRecord(ids[i] as string, v).issuer === issuer);
  }

  /** Ids of the retractions that target `id`. */
  async retractionsOf(id: string): Promise<string[]> {
    const prefix = key(P.retraction, hex32(id));
    const out: string[] = [];
    await this.read(async (db) => {
      for await (const k of db.keys({ gt: prefix, lt: upperBound(prefix) })) out.push(decodeKey.retraction(k).retraction);
    });
    return out;
  }

  /** Every (issuedAt seconds, id) pair, in order: what catch-up sync reconciles. */
  async *timeKeys(): AsyncGenerator<{ t: number; id: string }> {
    for await (const k of this.db.keys({ gte: key(P.time), lt: key(P.time + 1) })) {
      yield decodeKey.time(k);
    }
  }

  /**
   * Canonical envelope JSON of stored attestations, in order (missing ids are skipped),
   * read a few at a time and stopping before `maxBytes` of JSON (at least one is returned).
   */
  async envelopes(ids: readonly string[], maxBytes = Infinity): Promise<string[]> {
    const out: string[] = [];
    let bytes = 0;
    for (let i = 0; i < ids.length; i += 16) {
      const values = await this.read((db) => db.getMany(ids.slice(i, i + 16).map((id) => key(P.record, hex32(id)))));
      for (const v of values) {
        const json = v === undefined ? undefined : recordEnvelopeJson(v);
        if (json === undefined) continue;
        if (out.length > 0 && bytes + json.length > maxBytes) return out;
        bytes += json.length + 3;
        out.push(json);
      }
    }
    return out;
  }

  /** Every record, raw, for verify-store. */
  async *records(): AsyncGenerator<{ id: string; value: Buffer }> {
    for await (const [k, v] of this.db.iterator({ gte: key(P.record), lt: key(P.record + 1) })) {
      yield { id: decodeKey.record(k).id, value: v };
    }
  }

  /** A record as stored, raw, for verify-store (undefined when there is none). */
  rawRecord(id: string): Buffer | undefined {
    return /^[0-9a-f]{64}$/.test(id) ? this.db.getSync(key(P.record, hex32(id))) : undefined;
  }

  /** An index entry's value, raw, for verify-store. */
  rawIndex(k: Buffer): Buffer | undefined {
    return this.db.getSync(k);
  }

  /** Every index entry of one kind, raw, for verify-store. */
  async *indexEntries(prefix: number): AsyncGenerator<{ key: Buffer; value: Buffer }> {
    for await (const [k, v] of this.db.iterator({ gte: key(prefix), lt: key(prefix + 1) })) yield { key: k, value: v };
  }

  /** Bytes the store's files take on disk. */
  async diskBytes(): Promise<number> {
    let total = 0;
    // LevelDB deletes files while it compacts: a file that vanished between the listing and
    // its stat takes no space.
    for (const name of await readdir(this.location)) total += await stat(join(this.location, name)).then((s) => s.size, () => 0);
    return total;
  }

  async close(): Promise<void> {
    clearInterval(this.watcher);
    this.watcher = undefined;
    await this.writing;
    await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
