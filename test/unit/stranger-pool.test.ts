import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import type { Decision } from '../../src/ingest/decide.js';
import type { VerifiedAttestation } from '../../src/ingest/verified.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { NewIssuerAdmission } from '../../node/ingest/admission.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { LEGACY_GROUP, LOCAL_GROUP, StrangerPool } from '../../node/store/stranger-pool.js';
import { verifyStore } from '../../node/store/verify-store.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';

/** An envelope of about `bytes` (an unknown predicate type: kept and relayed, never scored). */
const blob = (issuer: TestIssuer, bytes: number): string =>
  makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { blob: 'x'.repeat(Math.floor(bytes * 0.7)) } });

describe('the storage budget for strangers', () => {
  it('stays within budget, evicts the largest stranger first, and never touches trusted issuers', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    const trusted = makeIssuer();
    const budget = 200_000;
    const pool = new StrangerPool(store, budget, (i) => i === trusted.did);
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, pool, trusted: (i) => i === trusted.did });

    // The trusted issuer stores more than the whole budget: it is not counted against it.
    const mine = await ingestor.ingestMany(Array.from({ length: 30 }, () => blob(trusted, 10_000)));
    expect(mine.every((d) => d.outcome === 'accept')).toBe(true);
    expect(pool.usedBytes).toBe(0);

    // One stranger fills the pool...
    const big = makeIssuer();
    const bigDs = await ingestor.ingestMany(Array.from({ length: 40 }, () => blob(big, 10_000)));
    expect(bigDs.filter((d) => d.outcome === 'accept').length).toBeLessThan(40);
    expect(bigDs.filter((d) => d.code === 'stranger_budget').length).toBeGreaterThan(0);
    expect(pool.usedBytes).toBeLessThanOrEqual(budget);
    const bigFirst = bigDs.find((d) => d.outcome === 'accept')!.id!;

    // ...then ten more strangers each get in, at the big one's expense (oldest first).
    const others = Array.from({ length: 10 }, () => makeIssuer());
    for (const o of others) {
      const ds = await ingestor.ingestMany([blob(o, 10_000)]);
      expect(ds[0]!.outcome).toBe('accept');
    }
    expect(pool.usedBytes).toBeLessThanOrEqual(budget);
    expect(await store.has(bigFirst)).toBe(false);
    for (const o of others) expect(store.issuerBytes(o.did)).toBeGreaterThan(0);
    // Trusted data untouched; counters agree with what is stored.
    expect(store.issuerBytes(trusted.did)).toBeGreaterThan(budget);
    const { items } = await store.byIssuer(trusted.did);
    expect(items).toHaveLength(30);
    expect(store.size).toBe(30 + (await store.byIssuer(big.did)).items.length + 10);

    // The big stranger cannot push the small ones out: it is refused once it holds no more than they would.
    const again = await ingestor.ingestMany(Array.from({ length: 20 }, () => blob(big, 10_000)));
    expect(again.every((d) => d.outcome !== 'accept' || store.issuerBytes(big.did) <= budget)).toBe(true);
    for (const o of others) expect(store.issuerBytes(o.did)).toBeGreaterThan(0);
    // Evictions removed every index entry and kept every counter right.
    expect(await verifyStore(store, nativeSuite())).toMatchObject({ ok: true, problems: [] });
  });

  it('limits how many new issuers one peer may introduce per hour; local input and trusted issuers are exempt', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    let clock = Date.now();
    const admission = new NewIssuerAdmission({ perPeer: 5, perIp: 1000, perNetwork: 1000, global: 1000 }, () => clock);
    const friend = makeIssuer();
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, admission, trusted: (i) => i === friend.did });
    const sybils = Array.from({ length: 8 }, () => makeIssuer());
    const ds = await ingestor.ingestMany(sybils.map((s) => makeEnvelopeLine(s)), undefined, { via: 'gossip', peer: 'hostile' });
    expect(ds.filter((d) => d.outcome === 'accept')).toHaveLength(5);
    expect(ds.filter((d) => d.code === 'rate_limited')).toHaveLength(3);
    // A known issuer is not new; a trusted one is exempt; the same keys from the CLI are fine.
    expect((await ingestor.ingest(makeEnvelopeLine(sybils[0]!), { via: 'gossip', peer: 'hostile' })).outcome).toBe('accept');
    expect((await ingestor.ingest(makeEnvelopeLine(friend), { via: 'gossip', peer: 'hostile' })).outcome).toBe('accept');
    expect((await ingestor.ingest(makeEnvelopeLine(sybils[7]!))).outcome).toBe('accept');
    // Another peer has its own allowance; an hour later the first has a new one.
    expect((await ingestor.ingest(makeEnvelopeLine(sybils[6]!), { via: 'gossip', peer: 'other' })).outcome).toBe('accept');
    clock += 3_600_000;
    expect((await ingestor.ingest(makeEnvelopeLine(sybils[5]!), { via: 'sync', peer: 'hostile' })).outcome).toBe('accept');
  });

  it('one pre-1970 attestation in a group of 51 fails only itself; the other 50 are stored', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS });
    const a = makeIssuer();
    const digest = randomDigest();
    const lines = Array.from({ length: 50 }, (_, i) => makeEnvelopeLine(a, { subjects: [digest], fields: exampleFields('audit', { metrics: { run: i } }) }));
    // Pre-1970: refused by the schema (the store keys times as unsigned seconds), alone.
    lines.splice(25, 0, makeEnvelopeLine(a, { issuedAt: new Date('1969-07-20T20:17:40Z') }));
    const ds = await ingestor.ingestMany(lines);
    expect(ds.filter((d) => d.outcome === 'accept')).toHaveLength(50);
    expect(ds[25]).toMatchObject({ outcome: 'reject', code: 'malformed_statement' });
    expect(await store.subjectCount(digest)).toBe(50);
  });

  it('many small envelopes of the largest stranger make room for a large newcomer; the tally matches the store', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    const budget = 200_000;
    const pool = new StrangerPool(store, budget, () => false);
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, pool });
    const strangersBytes = (): number => [...store.usageEntries()].reduce((n, [, u]) => n + u.bytes, 0);
    const x = makeIssuer();
    // About 290 envelopes of ~700 bytes: more than one page of eviction candidates.
    await ingestor.ingestMany(Array.from({ length: 300 }, () => blob(x, 700)));
    expect(pool.usedBytes).toBe(strangersBytes());
    const newcomer = makeIssuer();
    expect((await ingestor.ingest(blob(newcomer, 60_000))).outcome).toBe('accept');
    // A group of many newcomers at once, each evicting some of x's.
    const many = Array.from({ length: 60 }, () => makeIssuer());
    const ds = await ingestor.ingestMany(many.map((m) => blob(m, 1_600)));
    expect(ds.filter((d) => d.outcome === 'accept')).toHaveLength(60);
    expect(pool.usedBytes).toBe(strangersBytes());
    expect(pool.usedBytes).toBeLessThanOrEqual(budget);
    expect(await verifyStore(store, nativeSuite())).toMatchObject({ ok: true });
  });

  it('garbage collection racing a burst of ingests leaves a consistent store', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS });
    const a = makeIssuer();
    const soon = new Date(Date.now() + 60_000);
    await ingestor.ingestMany(Array.from({ length: 1200 }, (_, i) => makeEnvelopeLine(a, { expiresAt: soon, fields: exampleFields('audit', { metrics: { run: i } }) })));
    const later = Array.from({ length: 1500 }, (_, i) => makeEnvelopeLine(a, { fields: exampleFields('audit', { metrics: { run: 10_000 + i } }) }));
    const burst = ingestor.ingestMany(later);
    // Collect while the burst is being written, in small batches, as the hourly timer would.
    let removed = 0;
    for (;;) {
      const ids = await store.expiringBefore(Date.now() + 120_000, 100);
      if (ids.length === 0) break;
      removed += await store.remove(ids);
    }
    await burst;
    expect(removed).toBe(1200);
    expect(store.size).toBe(1500);
    expect((await store.byIssuer(a.did)).items).toHaveLength(1500);
    expect(await verifyStore(store, nativeSuite())).toMatchObject({ ok: true, problems: [] });
  });

  it('a flood of 2,000 fresh keys from one network holds at most its group share; an honest stranger of another keeps pool ÷ groups; a restart keeps the groups', async () => {
    await using dir = await tempDir();
    const budget = 200_000;
    const flood = '203.0.113.0/24';
    const home = '198.51.100.0/24';
    const addresses: Record<string, string> = { flood1: '203.0.113.7', flood2: '203.0.113.8', honest: '198.51.100.9' };
    const sybils = Array.from({ length: 2000 }, () => makeIssuer());
    const honest = makeIssuer();
    const floodFrom = (ingestor: Ingestor): Promise<Decision[]> => Promise.all([
      ingestor.ingestMany(sybils.slice(0, 1000).map((s) => blob(s, 1_000)), undefined, { via: 'gossip', peer: 'flood1' }),
      ingestor.ingestMany(sybils.slice(1000).map((s) => blob(s, 1_000)), undefined, { via: 'sync', peer: 'flood2' }),
    ]).then((r) => r.flat());
    let before: { groups: number; flood: number; home: number; honest: number };
    {
      await using store = await AttestationStore.open(dir.path);
      const pool = new StrangerPool(store, budget, () => false);
      const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, pool });
      ingestor.setPeerAddress((peer) => addresses[peer]);
      // The flood fills the pool, then churns only itself.
      const first = await floodFrom(ingestor);
      expect(first.filter((d) => d.code === 'stranger_budget').length).toBeGreaterThan(1000);
      expect(pool.groupBytes(flood)).toBe(pool.usedBytes);
      // The honest stranger gets in at the flood's expense, up to half the pool (2 groups).
      const mine = await ingestor.ingestMany(Array.from({ length: 150 }, () => blob(honest, 1_000)), undefined, { via: 'gossip', peer: 'honest' });
      const one = store.issuerBytes(honest.did) / store.issuerUsage(honest.did).attestations;
      expect(mine.filter((d) => d.code === 'stranger_budget').length).toBeGreaterThan(0);
      expect(store.issuerBytes(honest.did)).toBeGreaterThanOrEqual(budget / 2 - one);
      // A second round of the flood, old keys and fresh attestations: the honest share holds.
      const held = store.issuerBytes(honest.did);
      await floodFrom(ingestor);
      expect(store.issuerBytes(honest.did)).toBe(held);
      expect(pool.groupBytes(flood)).toBeLessThanOrEqual(budget / 2 + one);
      expect(pool.usedBytes).toBeLessThanOrEqual(budget);
      expect(pool.groupCount).toBe(2);
      expect(pool.evictions).toBeGreaterThan(50);
      before = { groups: pool.groupCount, flood: pool.groupBytes(flood), home: pool.groupBytes(home), honest: held };
      expect(await verifyStore(store, nativeSuite())).toMatchObject({ ok: true, problems: [] });
    }
    // Reopened: every issuer is still in the group that first brought it.
    await using store = await AttestationStore.open(dir.path);
    const pool = new StrangerPool(store, budget, () => false);
    expect({ groups: pool.groupCount, flood: pool.groupBytes(flood), home: pool.groupBytes(home), honest: store.issuerBytes(honest.did) }).toEqual(before);
    expect(store.issuerGroup(honest.did)).toBe(home);
    expect(pool.groupOf(sybils.find((s) => store.issuerBytes(s.did) > 0)!.did)).toBe(flood);
    // Known issuers keep their group whatever brings them next.
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, pool });
    expect((await ingestor.ingest(blob(makeIssuer(), 1_000))).outcome).toBe('accept');
    expect(pool.groupCount).toBe(3);
    expect(pool.groupBytes(LOCAL_GROUP)).toBeGreaterThan(0);
    expect(store.issuerGroup(honest.did)).toBe(home);
  }, 60_000);

  it('issuers stored before groups were recorded form one legacy group, which gives way to a newcomer down to its group share', async () => {
    await using dir = await tempDir();
    await using scratch = await tempDir();
    const budget = 200_000;
    const old = Array.from({ length: 50 }, () => makeIssuer());
    // Attestations written without groups: what a store from before this change holds.
    const atts: VerifiedAttestation[] = [];
    {
      await using s = await AttestationStore.open(scratch.path);
      const ds = await new Ingestor({ store: s, suite: nativeSuite(), limits: DEFAULT_LIMITS }).ingestMany(old.flatMap((o) => Array.from({ length: 4 }, () => blob(o, 1_000))));
      for (const d of ds) if (d.outcome === 'accept') atts.push(d.attestation);
    }
    {
      await using s = await AttestationStore.open(dir.path);
      await s.putAccepted(atts, Date.now());
    }
    await using store = await AttestationStore.open(dir.path);
    const pool = new StrangerPool(store, budget, () => false);
    expect(pool.groupOf(old[0]!.did)).toBe(LEGACY_GROUP);
    expect(pool.groupCount).toBe(1);
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, pool });
    const newcomer = makeIssuer();
    await ingestor.ingestMany(Array.from({ length: 150 }, () => blob(newcomer, 1_000)));
    const one = store.issuerBytes(newcomer.did) / store.issuerUsage(newcomer.did).attestations;
    expect(store.issuerBytes(newcomer.did)).toBeGreaterThanOrEqual(budget / 2 - one);
    // Within the legacy group the largest gave way first: every old issuer keeps something.
    for (const o of old) expect(store.issuerBytes(o.did)).toBeGreaterThan(0);
    expect(pool.usedBytes).toBeLessThanOrEqual(budget);
  }, 60_000);
});
