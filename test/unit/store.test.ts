import { describe, expect, it } from 'vitest';
import { Level } from 'level';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import { reputationView } from '../../src/reputation/view.js';
import { TrustGraph } from '../../src/reputation/trust-graph.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { verifyStore } from '../../node/store/verify-store.js';
import { P } from '../../node/store/keys.js';
import { isChorusError } from '../../src/errors.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';

async function withStore<T>(path: string, fn: (store: AttestationStore, ingestor: Ingestor) => Promise<T>): Promise<T> {
  const store = await AttestationStore.open(path);
  try {
    return await fn(store, new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS }));
  } finally {
    await store.close();
  }
}

describe('AttestationStore on a real LevelDB', () => {
  it('keeps what it accepted across a reopen, with indexes by subject, issuer and arrival', async () => {
    await using dir = await tempDir();
    const alice = makeIssuer();
    const bob = makeIssuer();
    const digest = randomDigest();
    const lines = [
      makeEnvelopeLine(alice, { subjects: [digest] }),
      makeEnvelopeLine(bob, { subjects: [digest, randomDigest()] }),
      makeEnvelopeLine(bob),
    ];
    const ids = await withStore(dir.path, async (_, ingestor) => (await ingestor.ingestMany(lines)).map((d) => {
      expect(d.outcome).toBe('accept');
      return d.id as string;
    }));
    await withStore(dir.path, async (store) => {
      expect(store.size).toBe(3);
      expect(store.lastSeq).toBe(3);
      expect((await store.bySubject(digest)).items.map((a) => a.id)).toEqual(ids.slice(0, 2));
      expect((await store.byIssuer(bob.did)).items.map((a) => a.id)).toEqual(ids.slice(1));
      const first = await store.bySeq({ limit: 2 });
      expect(first.items.map((a) => a.seq)).toEqual([1, 2]);
      expect(first.next).toBe(2);
      const rest = await store.bySeq({ after: first.next as number, limit: 2 });
      expect(rest.items.map((a) => a.id)).toEqual([ids[2]]);
      expect(rest.next).toBeUndefined();
      expect(await store.issuerBytes(bob.did)).toBeGreaterThan(await store.issuerBytes(alice.did));
      expect((await verifyStore(store, nativeSuite())).ok).toBe(true);
    });
  });

  it('pages the newest first with `before`, and resolves an id from a unique prefix of 8+ hex', async () => {
    await using dir = await tempDir();
    const alice = makeIssuer();
    const lines = Array.from({ length: 300 }, () => makeEnvelopeLine(alice));
    const ids = await withStore(dir.path, async (_, ingestor) => (await ingestor.ingestMany(lines)).map((d) => d.id as string));
    await withStore(dir.path, async (store) => {
      const newest = await store.bySeq({ before: Number.MAX_SAFE_INTEGER, limit: 2 });
      expect(newest.items.map((a) => a.seq)).toEqual([300, 299]);
      expect(newest.next).toBe(299);
      const older = await store.bySeq({ before: newest.next as number, limit: 2 });
      expect(older.items.map((a) => a.seq)).toEqual([298, 297]);
      const last = await store.bySeq({ before: 2, limit: 5 });
      expect(last.items.map((a) => a.seq)).toEqual([1]);
      expect(last.next).toBeUndefined();

      const id = ids[42]!;
      expect(await store.resolveId(id.slice(0, 12).toUpperCase())).toBe(id);
      expect(await store.resolveId(id)).toBe(id);
      const short = await store.resolveId(id.slice(0, 7)).catch((e: unknown) => e);
      expect(isChorusError(short, 'bad_input')).toBe(true); // fewer than 8 characters
      const absent = [...'0123456789abcdef'].map((c) => c.repeat(8)).find((p) => !ids.some((x) => x.startsWith(p)))!;
      const none = await store.resolveId(absent).catch((e: unknown) => e);
      expect(isChorusError(none, 'not_found')).toBe(true);
      const notHex = await store.resolveId('zzzzzzzz').catch((e: unknown) => e);
      expect(isChorusError(notHex, 'bad_input')).toBe(true);
    });
    // Two records whose ids share their first 8 hex (a second key written beside the first,
    // as 2^32 signings would find one): the prefix names neither.
    const id = ids[7]!;
    const db = new Level<Buffer, Buffer>(dir.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    const twin = Buffer.from(id.slice(0, 8) + 'f'.repeat(56), 'hex');
    await db.put(Buffer.concat([Buffer.of(P.record), twin]), (await db.get(Buffer.concat([Buffer.of(P.record), Buffer.from(id, 'hex')])))!);
    await db.close();
    await withStore(dir.path, async (store) => {
      const both = await store.resolveId(id.slice(0, 8)).catch((e: unknown) => e);
      expect(isChorusError(both, 'bad_input')).toBe(true);
      expect((both as Error).message).toContain('more than one');
      expect(await store.resolveId(id)).toBe(id); // the whole id still names it
    });
  });

  it('refuses a second opener with a clear, typed error', async () => {
    await using dir = await tempDir();
    await withStore(dir.path, async () => {
      const err = await AttestationStore.open(dir.path).catch((e: unknown) => e);
      expect(isChorusError(err, 'store_locked')).toBe(true);
      expect((err as Error).message).toMatch(/in use by another chorus process/);
    });
  });

  it('the same attestation sent twice in one batch is stored once', async () => {
    await using dir = await tempDir();
    const line = makeEnvelopeLine(makeIssuer());
    await withStore(dir.path, async (store, ingestor) => {
      const ds = await ingestor.ingestMany([line, line, Buffer.from(line)]);
      expect(ds.map((d) => d.code)).toEqual(['accepted', 'duplicate', 'duplicate']);
      expect(store.size).toBe(1);
    });
  });

  it('concurrent single ingests of the same attestation accept it once', async () => {
    await using dir = await tempDir();
    const line = makeEnvelopeLine(makeIssuer());
    await withStore(dir.path, async (store, ingestor) => {
      const ds = await Promise.all(Array.from({ length: 10 }, () => ingestor.ingest(line)));
      expect(ds.filter((d) => d.outcome === 'accept')).toHaveLength(1);
      expect(store.size).toBe(1);
    });
  });

  it('verify-store finds a record deleted behind its back and a damaged signature', async () => {
    await using dir = await tempDir();
    const issuer = makeIssuer();
    const ids = await withStore(dir.path, async (_, ingestor) => (await ingestor.ingestMany([makeEnvelopeLine(issuer), makeEnvelopeLine(issuer)])).map((d) => d.id as string));
    const db = new Level<Buffer, Buffer>(dir.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    await db.del(Buffer.concat([Buffer.of(P.record), Buffer.from(ids[0]!, 'hex')]));
    const k2 = Buffer.concat([Buffer.of(P.record), Buffer.from(ids[1]!, 'hex')]);
    const v2 = (await db.get(k2)) as Buffer;
    const damaged = Buffer.from(v2);
    damaged[17 + 10] = (damaged[17 + 10] as number) ^ 0x01; // a bit of the stored signature
    await db.put(k2, damaged);
    await db.close();
    await withStore(dir.path, async (store) => {
      const report = await verifyStore(store, nativeSuite());
      expect(report.ok).toBe(false);
      const kinds = new Set(report.problems.map((p) => p.kind));
      expect(kinds.has('dangling-index')).toBe(true);
      expect(kinds.has('bad-signature')).toBe(true);
      expect(kinds.has('counter')).toBe(true);
    });
  });

  it('verify-store names what one changed index entry breaks: a missing subject-issuer entry, a wrong size in the issuer index, a subject counter off by one', async () => {
    await using dir = await tempDir();
    const [alice, bob] = [makeIssuer(), makeIssuer()];
    const digest = randomDigest();
    const ids = await withStore(dir.path, async (_, ingestor) => (await ingestor.ingestMany(Array.from({ length: 40 }, (_, i) => makeEnvelopeLine(i % 2 ? alice : bob, { subjects: [i < 10 ? digest : randomDigest()], fields: exampleFields('audit', { metrics: { run: i } }) })))).map((d) => d.id as string));
    await withStore(dir.path, async (store) => expect((await verifyStore(store, nativeSuite())).problems).toEqual([]));
    const db = new Level<Buffer, Buffer>(dir.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const first = async (prefix: number, lt = prefix + 1): Promise<[Buffer, Buffer]> => (await db.iterator({ gte: Buffer.of(prefix), lt: Buffer.of(lt), limit: 1 }).all())[0]!;
    const [siKey, siValue] = await first(P.subjectIssuer);
    await db.del(siKey);
    const [issuerKey, issuerValue] = await first(P.issuer);
    const wrong = Buffer.from(issuerValue);
    wrong.writeUInt32BE(wrong.readUInt32BE(32) + 1, 32);
    await db.put(issuerKey, wrong);
    const counter = Buffer.concat([Buffer.of(P.subjectCount), Buffer.from(digest, 'hex')]);
    const n = (await db.get(counter))!.readUInt32BE(0);
    expect(n).toBe(10);
    await db.put(counter, Buffer.from([0, 0, 0, 11]));
    await db.close();
    await withStore(dir.path, async (store) => {
      const report = await verifyStore(store, nativeSuite());
      expect(report.ok).toBe(false);
      const missingSi = siValue.toString('hex');
      const issuerId = issuerValue.subarray(0, 32).toString('hex');
      expect(ids).toContain(missingSi);
      expect(report.problems).toEqual(expect.arrayContaining([
        expect.objectContaining({ kind: 'missing-index', id: missingSi, message: 'the subject-issuer index lacks an entry of this record' }),
        expect.objectContaining({ kind: 'missing-index', message: 'subject-issuer index has 39 entries; the records need 40' }),
        expect.objectContaining({ kind: 'dangling-index', id: issuerId, message: 'issuer index entry does not match a record' }),
        expect.objectContaining({ kind: 'missing-index', id: issuerId, message: 'the issuer index lacks an entry of this record' }),
        expect.objectContaining({ kind: 'counter', message: `count of ${digest} says 11, the store holds 10` }),
      ]));
      // Nothing else: the indexes that were not touched are not named.
      expect(report.problems.filter((p) => p.message.startsWith('subject index') || p.message.includes('arrival'))).toEqual([]);
    });
  });

  it('a query over 1,000 attestations of one digest returns them all with evidence', async () => {
    await using dir = await tempDir();
    const issuers = Array.from({ length: 50 }, () => makeIssuer());
    const digest = randomDigest();
    const lines = Array.from({ length: 1000 }, (_, i) => makeEnvelopeLine(issuers[i % 50]!, { subjects: [digest], fields: exampleFields('audit', { metrics: { run: i } }) }));
    await withStore(dir.path, async (store, ingestor) => {
      await ingestor.ingestMany(lines);
      const page = await store.bySubject(digest);
      expect(page.items).toHaveLength(1000);
      const trust = TrustGraph.compute(TrustPolicyFile.parse({ version: 2, roots: [{ issuer: issuers[0]!.did }] }), [], Date.now());
      const view = reputationView(digest, page.items, trust, Date.now());
      expect(view.byPredicate['audit']?.total).toBe(1000);
      // One trusted issuer's 20 audits: one counts, the other 19 are superseded.
      expect(view.byPredicate['audit']?.counted).toBe(1);
      expect(view.byPredicate['audit']?.attestations.filter((a) => a.reason === 'superseded')).toHaveLength(19);
      expect(view.status).toBe('ok');
    });
  });

  it('a store of schema 3 is migrated on open: the new indexes are built from the records, nothing lost', async () => {
    await using dir = await tempDir();
    const alice = makeIssuer();
    const digest = randomDigest();
    const lines = Array.from({ length: 30 }, (_, i) => makeEnvelopeLine(alice, { subjects: [digest], expiresAt: new Date(Date.now() + 86_400_000), fields: exampleFields('audit', { metrics: { run: i } }) }));
    await withStore(dir.path, async (_, ingestor) => ingestor.ingestMany(lines));
    // Turn it back into what schema 3 wrote: no subject-issuer, expiry or subject-count entries.
    const db = new Level<Buffer, Buffer>(dir.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    for (const prefix of [P.subjectIssuer, P.expiry, P.subjectCount, P.endorsement]) await db.clear({ gte: Buffer.of(prefix), lt: Buffer.of(prefix + 1) });
    await db.put(Buffer.concat([Buffer.of(P.meta), Buffer.from('schema')]), Buffer.from('3'));
    await db.close();
    await withStore(dir.path, async (store) => {
      expect(store.size).toBe(30);
      expect(await store.subjectCount(digest)).toBe(30);
      expect((await store.bySubjectIssuer(digest, alice.did)).items).toHaveLength(30);
      expect(await store.expiringBefore(Date.now() + 2 * 86_400_000, 100)).toHaveLength(30);
      expect((await verifyStore(store, nativeSuite())).ok).toBe(true);
    });
  });

  it('finds the models derived from a base through lineage claims, and a schema-4 store gets that index on open', async () => {
    await using dir = await tempDir();
    const alice = makeIssuer();
    const base = randomDigest();
    const quantized = randomDigest();
    const tuned = randomDigest();
    const lineage = (subject: string, relation: string) => makeEnvelopeLine(alice, { subjects: [subject], kind: 'lineage', fields: exampleFields('lineage', { derivedFrom: [{ digest: { sha256: base }, relation }] }) });
    const lines = [lineage(quantized, 'quantized'), lineage(tuned, 'fine-tuned'), makeEnvelopeLine(alice, { subjects: [base] })];
    await withStore(dir.path, async (store, ingestor) => {
      expect((await ingestor.ingestMany(lines)).map((d) => d.outcome)).toEqual(['accept', 'accept', 'accept']);
      const derived = await store.derivedFrom(base, 10);
      expect(derived.map((a) => a.statement.subject[0]!.digest.sha256)).toEqual([tuned, quantized]); // the newest first
      expect(await store.derivedFrom(quantized, 10)).toEqual([]);
      expect(await store.derivedFrom(base, 1)).toHaveLength(1);
      expect((await verifyStore(store, nativeSuite())).ok).toBe(true);
    });
    // What schema 4 wrote: no derived index.
    const db = new Level<Buffer, Buffer>(dir.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.clear({ gte: Buffer.of(P.derived), lt: Buffer.of(P.derived + 1) });
    await db.put(Buffer.concat([Buffer.of(P.meta), Buffer.from('schema')]), Buffer.from('4'));
    await db.close();
    await withStore(dir.path, async (store) => {
      expect(store.size).toBe(3);
      expect((await store.derivedFrom(base, 10)).map((a) => a.statement.subject[0]!.digest.sha256)).toEqual([tuned, quantized]);
      const report = await verifyStore(store, nativeSuite());
      expect(report.problems).toEqual([]);
    });
  });
});
