import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../node/api/metrics.js';
import { writePolicy } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { TestNet } from '../support/test-net.js';

/**
 * The churn budget (SPEC §14.8) on a real store, with the node's clock in the test's hand:
 * an issuer's endorsement changes past its budget are stored but wait for the next minute,
 * and the view says so; within the budget they apply at once.
 */
const net = new TestNet();
afterAll(() => net.stop());

/** A clock that starts a second into the current minute and moves only when told. */
function testClock(): { now: () => number; advance(ms: number): void; at(ms: number): void } {
  let t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
  return { now: () => t, advance: (ms) => void (t += ms), at: (ms) => void (t = ms) };
}

async function openNode(root: TestIssuer, now: () => number, overrides: Record<string, unknown> = {}): Promise<LocalNode> {
  const home = await net.home('chorus-churn-');
  await writePolicy(home.trust, TrustPolicyFile.parse({ version: 2, roots: [{ issuer: root.did }] }));
  return LocalNode.open(home, { env: {}, now, overrides: { 'trust.includeSelf': false, ...overrides } });
}

const endorse = (by: TestIssuer, who: TestIssuer, o: { expiresAt?: Date } = {}) =>
  makeEnvelopeLine(by, { kind: 'endorsement', subjects: [endorsementSubject(who.did)], fields: { endorsed: who.did, scope: ['*'], weight: 1 }, ...o });

async function accept(node: LocalNode, line: string): Promise<string> {
  const d = await node.ingestor.ingest(line);
  if (d.outcome !== 'accept') throw new Error(`not accepted: ${d.code} ${d.message}`);
  return d.id;
}

describe('the churn budget', () => {
  it('an issuer past its budget: changes stored, not in the graph, named in the view; applied together at the next window', async () => {
    const clock = testClock();
    const [root, x] = [makeIssuer(), makeIssuer()];
    const node = await openNode(root, clock.now);
    try {
      const digest = randomDigest();
      await accept(node, endorse(root, x));
      expect((await node.trust()).counts(x.did)).toBe(true);

      // X endorses one key after another, a question after each: six apply at once (its budget).
      const keys = Array.from({ length: 9 }, () => makeIssuer());
      for (const [i, k] of keys.entries()) {
        clock.advance(1_000);
        await accept(node, endorse(x, k));
        const g = await node.trust();
        expect(g.counts(k.did), `endorsement ${i + 1}`).toBe(i < 6);
      }
      // The rest are stored.
      expect((await node.store.endorsementsBy(x.did, 100)).length).toBe(9);
      // ... and the view says the graph does not reflect them yet, and until when.
      const windowEnd = Math.floor(clock.now() / 60_000) * 60_000 + 60_000;
      const v = await node.view(digest);
      expect(v.deferredEndorsements).toEqual([{ issuer: x.did, changes: 3, until: new Date(windowEnd).toISOString() }]);
      expect(v.reason).toContain('does not yet reflect 3 endorsement change(s)');

      // The window moves on: all three land in one recomputation.
      let recomputes = 0;
      node.trustState.onRecompute(() => void recomputes++);
      clock.at(windowEnd);
      const g = await node.trust();
      expect(keys.every((k) => g.counts(k.did))).toBe(true);
      expect(recomputes).toBe(1);
      const after = await node.view(digest);
      expect(after.deferredEndorsements).toBeUndefined();
      expect(after.reason).not.toContain('does not yet reflect');
    } finally {
      await node.close();
    }
  }, 60_000);

  it('within the budget, endorse / retract / expire apply at once; past it a retraction and an expiry wait too', async () => {
    const clock = testClock();
    const [root, x, y, z] = [makeIssuer(), makeIssuer(), makeIssuer(), makeIssuer()];
    const node = await openNode(root, clock.now);
    try {
      await accept(node, endorse(root, x));
      expect((await node.trust()).counts(x.did)).toBe(true);
      clock.advance(1_000);
      const toY = await accept(node, endorse(x, y));
      expect((await node.trust()).counts(y.did)).toBe(true);
      clock.advance(1_000);
      await accept(node, makeEnvelopeLine(x, { kind: 'retraction', subjects: [endorsementSubject(y.did)], fields: { target: toY } }));
      expect((await node.trust()).counts(y.did)).toBe(false);
      // A short-lived endorsement: counts, then stops counting when it expires.
      clock.advance(1_000);
      await accept(node, endorse(x, z, { expiresAt: new Date(clock.now() + 5_000) }));
      expect((await node.trust()).counts(z.did)).toBe(true);
      clock.advance(6_000);
      expect((await node.trust()).counts(z.did)).toBe(false);
      expect((await node.view(randomDigest())).deferredEndorsements).toBeUndefined();

      // X spends the rest of its budget (4 of 6 used: endorse, retract, endorse, expiry).
      const others = Array.from({ length: 2 }, () => makeIssuer());
      for (const k of others) {
        clock.advance(1_000);
        await accept(node, endorse(x, k, { expiresAt: new Date(clock.now() + 10_000) }));
        expect((await node.trust()).counts(k.did)).toBe(true);
      }
      // Past it: a retraction is stored, not applied; expiries do not force a recomputation.
      clock.advance(1_000);
      const first = (await node.store.endorsementsBy(x.did, 100)).find((a) => a.statement.subject[0]?.digest.sha256 === endorsementSubject(others[0]!.did));
      await accept(node, makeEnvelopeLine(x, { kind: 'retraction', subjects: [endorsementSubject(others[0]!.did)], fields: { target: first!.id } }));
      expect((await node.trust()).counts(others[0]!.did)).toBe(true);
      clock.advance(12_000);
      const g0 = await node.trust();
      const v = await node.view(randomDigest());
      // One retraction and two expiries wait.
      expect(v.deferredEndorsements).toEqual([expect.objectContaining({ issuer: x.did, changes: 3 })]);
      expect(others.every((k) => g0.counts(k.did))).toBe(true);
      // Next window: everything applies.
      clock.at(Math.floor(clock.now() / 60_000) * 60_000 + 60_000);
      const g = await node.trust();
      expect(others.some((k) => g.counts(k.did))).toBe(false);
      expect((await node.view(randomDigest())).deferredEndorsements).toBeUndefined();
    } finally {
      await node.close();
    }
  }, 60_000);

  it('all issuers together: past limits.trustRecomputesPerSecond a change waits for the next free recomputation; metrics count it', async () => {
    const clock = testClock();
    const root = makeIssuer();
    const node = await openNode(root, clock.now, { 'limits.trustRecomputesPerSecond': 1 });
    const metrics = new Metrics(node.store, node.trustState);
    try {
      const [a, b] = [makeIssuer(), makeIssuer()];
      await accept(node, endorse(root, a));
      await accept(node, endorse(root, b));
      expect((await node.trust()).counts(b.did)).toBe(true);
      const [ka, kb] = [makeIssuer(), makeIssuer()];
      clock.advance(1_000);
      await accept(node, endorse(a, ka));
      expect((await node.trust()).counts(ka.did)).toBe(true);
      // Same second, another issuer within its own budget: the node's one recomputation is spent.
      await accept(node, endorse(b, kb));
      expect((await node.trust()).counts(kb.did)).toBe(false);
      const v = await node.view(randomDigest());
      expect(v.deferredEndorsements).toEqual([{ issuer: b.did, changes: 1, until: new Date(clock.now() + 1_000).toISOString() }]);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/chorus_trust_deferred_changes 1/);
      clock.advance(1_000);
      expect((await node.trust()).counts(kb.did)).toBe(true);
      const after = await metrics.registry.metrics();
      expect(after).toMatch(/chorus_trust_recomputations_total\{cause="endorsements"\} [1-9]/);
      expect(after).toMatch(/chorus_trust_recompute_seconds_count [1-9]/);
      expect(after).toMatch(/chorus_trust_deferred_changes 0/);
    } finally {
      await node.close();
    }
  }, 60_000);
});
