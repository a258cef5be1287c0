import { describe, expect, it } from 'vitest';
import { initHome, resolveHome } from '../../node/home/home.js';
import { writePolicy } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';

/*
 * Kept views (issue 24): a view is computed once and served as kept until something that can
 * change it happens. Each case asks the same digest twice (the second a hit), changes one
 * thing, and asks again: the answer must be the new one, never the kept one.
 */

async function withNode<T>(policy: unknown, fn: (node: LocalNode) => Promise<T>, clock?: () => number, overrides: Record<string, unknown> = {}): Promise<T> {
  await using dir = await tempDir('chorus-kept-');
  const home = resolveHome({}, dir.path);
  await initHome(home);
  await writePolicy(home.trust, TrustPolicyFile.parse(policy));
  const node = await LocalNode.open(home, { env: {}, overrides: { 'trust.includeSelf': false, ...overrides }, ...(clock ? { now: clock } : {}) });
  try {
    return await fn(node);
  } finally {
    await node.close();
  }
}

const audit = (verdict: string, summary = verdict) => exampleFields('audit', { verdict, summary });

describe('kept views', () => {
  it('a second read is a hit; a commit about the digest, and a commit about a base it inherits from, are seen at once', async () => {
    const lab = makeIssuer();
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const [model, base] = [randomDigest(), randomDigest()];
      await node.ingestor.ingestMany([
        makeEnvelopeLine(lab, { subjects: [model], fields: audit('pass') }),
        makeEnvelopeLine(lab, { kind: 'lineage', subjects: [model], fields: { derivedFrom: [{ digest: { sha256: base }, relation: 'quantized' }] } }),
      ]);
      expect((await node.view(model)).status).toBe('ok');
      const hits = node.views.stats.hits;
      expect((await node.view(model)).status).toBe('ok');
      expect(node.views.stats.hits).toBe(hits + 1);

      // A dealignment finding about the base: inherited by the model (it read the base).
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { kind: 'dealignment', subjects: [base], fields: exampleFields('dealignment') })]);
      const after = await node.view(model);
      expect(after.byPredicate['dealignment']?.counted).toBe(1);

      // About the model itself: a newer failing audit supersedes the pass.
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { subjects: [model], fields: audit('fail'), issuedAt: new Date() })]);
      expect((await node.view(model)).status).toBe('flagged');
    });
  });

  it('a trust change is seen at once: a new endorsement makes a stranger count', async () => {
    const [lab, other] = [makeIssuer(), makeIssuer()];
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const model = randomDigest();
      await node.ingestor.ingestMany([makeEnvelopeLine(other, { subjects: [model], fields: audit('fail') })]);
      expect((await node.view(model)).status).toBe('unknown');
      expect((await node.view(model)).status).toBe('unknown');
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { kind: 'endorsement', subjects: [endorsementSubject(other.did)], fields: { endorsed: other.did, scope: ['*'], weight: 1 } })]);
      expect((await node.view(model)).status).toBe('flagged');
    });
  });

  it('an expiry is seen when it comes, with no commit at all', async () => {
    const lab = makeIssuer();
    let now = Date.now();
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const model = randomDigest();
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { subjects: [model], fields: audit('fail'), expiresAt: new Date(now + 60_000) })]);
      expect((await node.view(model)).status).toBe('flagged');
      expect((await node.view(model)).status).toBe('flagged');
      now += 61_000;
      expect((await node.view(model)).status).toBe('unknown');
    }, () => now);
  });

  it('an expiry in a base\'s evidence (not listed in the model\'s own view) is seen when it comes', async () => {
    const lab = makeIssuer();
    let now = Date.now();
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const [model, base, base2] = [randomDigest(), randomDigest(), randomDigest()];
      const lineage = (subject: string, of: string, o: { expiresAt?: Date } = {}) => makeEnvelopeLine(lab, { kind: 'lineage', subjects: [subject], fields: { derivedFrom: [{ digest: { sha256: of }, relation: 'converted' }] }, ...o });
      await node.ingestor.ingestMany([
        lineage(model, base),
        lineage(base, base2, { expiresAt: new Date(now + 60_000) }), // the base's own claim expires
        makeEnvelopeLine(lab, { subjects: [base2], fields: audit('fail') }),
      ]);
      expect((await node.view(model)).status).toBe('flagged');
      expect((await node.view(model)).status).toBe('flagged');
      now += 61_000;
      expect((await node.view(model)).status).toBe('unknown');
    }, () => now);
  });

  it('what is kept is counted at its size (large predicates too), and a new trust graph empties the cache', async () => {
    const [lab, other] = [makeIssuer(), makeIssuer()];
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const digests = Array.from({ length: 10 }, () => randomDigest());
      const big = 'x'.repeat(4_000);
      await node.ingestor.ingestMany(digests.map((d) => makeEnvelopeLine(lab, { subjects: [d], fields: audit('pass', big) })));
      for (const d of digests) await node.view(d);
      expect(node.views.size.entries).toBe(10);
      expect(node.views.size.bytes).toBeGreaterThan(10 * 3 * 4_000);
      // A trust change: nothing kept under the old graph stays (nor holds the old graph).
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { kind: 'endorsement', subjects: [endorsementSubject(other.did)], fields: { endorsed: other.did, scope: ['*'], weight: 1 } })]);
      await node.view(digests[0]!);
      expect(node.views.size.entries).toBe(1);
    });
  });

  it('views asked at once right after a trust change are all kept: one does not throw out the others', async () => {
    const [lab, other] = [makeIssuer(), makeIssuer()];
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      const digests = Array.from({ length: 8 }, () => randomDigest());
      await node.ingestor.ingestMany(digests.map((d) => makeEnvelopeLine(lab, { subjects: [d], fields: audit('pass') })));
      await Promise.all(digests.map((d) => node.view(d)));
      await node.ingestor.ingestMany([makeEnvelopeLine(lab, { kind: 'endorsement', subjects: [endorsementSubject(other.did)], fields: { endorsed: other.did, scope: ['*'], weight: 1 } })]);
      // All eight under the new graph, concurrently: each kept, so each second ask is a hit.
      await Promise.all(digests.map((d) => node.view(d)));
      expect(node.views.size.entries).toBe(8);
      const hits = node.views.stats.hits;
      await Promise.all(digests.map((d) => node.view(d)));
      expect(node.views.stats.hits).toBe(hits + 8);
    });
  });

  it('an endorsement by an issuer at the last layer (it passes no trust on) is not even a recomputation: the graph and the kept views stay; one by an issuer above it changes both', async () => {
    const [lab, a, b, c, stranger] = [makeIssuer(), makeIssuer(), makeIssuer(), makeIssuer(), makeIssuer()];
    const endorse = (by: typeof lab, who: typeof lab) => makeEnvelopeLine(by, { kind: 'endorsement', subjects: [endorsementSubject(who.did)], fields: { endorsed: who.did, scope: ['*'], weight: 1 } });
    // maxDepth 3 (the default): lab (root) -> a -> b -> c; c is at the last layer.
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      await node.ingestor.ingestMany([endorse(lab, a), endorse(a, b), endorse(b, c)]);
      const model = randomDigest();
      await node.ingestor.ingestMany([makeEnvelopeLine(stranger, { subjects: [model], fields: audit('fail') })]);
      const before = await node.trust();
      expect(before.counts(c.did)).toBe(true);
      expect((await node.view(model)).status).toBe('unknown');
      const causes: string[] = [];
      node.trustState.onRecompute((_s, cause) => causes.push(cause));

      // c endorses the stranger: c passes nothing on, so nothing changes — not even the kept view.
      await node.ingestor.ingestMany([endorse(c, stranger)]);
      const after = await node.trust();
      expect(after).toBe(before);
      expect(causes).toEqual([]);
      const hits = node.views.stats.hits;
      expect((await node.view(model)).status).toBe('unknown');
      expect(node.views.stats.hits).toBe(hits + 1);
      expect(after.trust(stranger.did, 'audit').trust).toBe(0);

      // b (one layer up) endorses the stranger: recomputed, and the stranger's failing audit counts.
      await node.ingestor.ingestMany([endorse(b, stranger)]);
      const changed = await node.trust();
      expect(changed).not.toBe(before);
      expect(causes).toEqual(['endorsements']);
      expect(changed.trust(stranger.did, 'audit').trust).toBeGreaterThan(0);
      expect((await node.view(model)).status).toBe('flagged');
    });
  });

  it('a flood of distinct digests evicts the least recently used: the kept views never pass their bound, a warm one stays', async () => {
    const lab = makeIssuer();
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, async (node) => {
      // Digests something is stored about (a view of nothing is not kept at all: it could not push any out).
      const flood = Array.from({ length: 300 }, () => randomDigest());
      const kept = randomDigest();
      await node.ingestor.ingestMany([kept, ...flood].map((d) => makeEnvelopeLine(lab, { subjects: [d], fields: audit('pass') })));
      await node.view(randomDigest());
      expect(node.views.size.entries).toBe(0);
      await node.view(kept);
      for (const d of flood) {
        await node.view(d);
        await node.view(kept); // kept warm: used most recently, never the one evicted
        expect(node.views.size.entries).toBeLessThanOrEqual(50);
      }
      expect(node.views.stats.evictions).toBeGreaterThanOrEqual(250);
      const hits = node.views.stats.hits;
      await node.view(kept);
      expect(node.views.stats.hits).toBe(hits + 1);
    }, undefined, { 'limits.viewCacheEntries': 50 });
  });
});
