import { afterAll, describe, expect, it } from 'vitest';
import { writePolicy } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { NodeService } from '../../node/service/node-service.js';
import { TrustPolicyFile } from '../../src/reputation/policy.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { TestNet } from '../support/test-net.js';

/** A node's own data dir, opened in process: the trust graph and views over a real store. */
const net = new TestNet();
afterAll(() => net.stop());
async function openNode(policy: unknown): Promise<LocalNode> {
  const home = await net.home('chorus-repnode-');
  await writePolicy(home.trust, TrustPolicyFile.parse(policy));
  return LocalNode.open(home, { env: {}, overrides: { 'trust.includeSelf': false } });
}
const endorse = (by: TestIssuer, who: TestIssuer, weight: number, o: { issuedAt?: Date } = {}) =>
  makeEnvelopeLine(by, { kind: 'endorsement', subjects: [endorsementSubject(who.did)], fields: { endorsed: who.did, scope: ['*'], weight }, ...o });

describe('the trust graph over a real store', () => {
  it('a zero-weight or tiny endorsement of a key that endorses a crowd costs a few reads, and cuts no honest path', async () => {
    const [root, w, h1, h2, h3] = Array.from({ length: 5 }, () => makeIssuer());
    const node = await openNode({ version: 2, roots: [{ issuer: root!.did }] });
    try {
      const crowd = Array.from({ length: 60 }, () => makeIssuer());
      const lines = [
        endorse(root!, w!, 1, { issuedAt: new Date(Date.now() - 120_000) }),
        endorse(root!, w!, 0), // the newest: weight 0
        endorse(root!, h1!, 1), endorse(h1!, h2!, 1), endorse(h2!, h3!, 1),
        ...crowd.flatMap((c, i) => [endorse(w!, c, 1), ...Array.from({ length: 20 }, (_, j) => endorse(c, crowd[(i + j + 1) % 60]!, 1))]),
      ];
      const ds = await node.ingestor.ingestMany(lines);
      expect(ds.filter((d) => d.outcome === 'accept')).toHaveLength(lines.length);
      const g = await node.trust();
      expect(g.edges).toBeLessThan(10);
      expect(g.counts(h3!.did)).toBe(true);
      expect(g.counts(w!.did)).toBe(false);
      expect(crowd.some((c) => g.counts(c.did))).toBe(false);
    } finally {
      await node.close();
    }
  }, 60_000);

  it('lineage: a cycle of bases and one finding named by four bases count the finding once', async () => {
    const lab = makeIssuer();
    const node = await openNode({ version: 2, roots: [{ issuer: lab.did }] });
    try {
      const [a, b, b2, b3, b4, d] = Array.from({ length: 6 }, () => randomDigest());
      const fail = makeEnvelopeLine(lab, { kind: 'license', subjects: [b!, b2!, b3!, b4!], fields: exampleFields('license', { verdict: 'noncompliant', detected: ['GPL-3.0-only'] }) });
      const lineage = (subject: string, bases: string[]) => makeEnvelopeLine(lab, { kind: 'lineage', subjects: [subject], fields: { derivedFrom: bases.map((x) => ({ digest: { sha256: x }, relation: 'merged' })) } });
      await node.ingestor.ingestMany([
        fail,
        lineage(d!, [b!, b2!, b3!, b4!]),
        lineage(a!, [b!]), lineage(b!, [a!]), // a cycle
      ]);
      const v = await node.view(d!);
      expect(v.byPredicate['license']!.counted).toBe(1);
      expect(v.byPredicate['license']!.weights.fail).toBe(1);
      const va = await node.view(a!);
      expect(va.byPredicate['license']!.counted).toBe(1);
      expect(va.byPredicate['license']!.attestations[0]!.inherited).toMatchObject({ from: `sha256:${b}` });
    } finally {
      await node.close();
    }
  }, 60_000);

  it('concurrent trust edits all land, none lost', async () => {
    const node = await openNode({ version: 2 });
    try {
      const service = new NodeService(node);
      const issuers = Array.from({ length: 12 }, () => makeIssuer());
      const rs = await Promise.all(issuers.map((i) => service.editTrust({ op: 'trust', issuer: i.did })));
      expect(rs.every((r) => r.changed)).toBe(true);
      expect((await service.trust()).policy.roots).toHaveLength(12);
      // A policy naming an issuer twice is refused, and nothing changes.
      await expect(service.setTrust({ version: 2, roots: [{ issuer: issuers[0]!.did, scope: ['*'], weight: 1 }], blocks: [{ issuer: issuers[0]!.did }], subscriptions: [], params: (await service.trust()).policy.params })).rejects.toThrow(/more than once/);
      expect((await service.trust()).policy.roots).toHaveLength(12);
    } finally {
      await node.close();
    }
  });

  it('a subscribed curator that a root also endorses counts for its own attestations', async () => {
    const [root, curator, scanner] = Array.from({ length: 3 }, () => makeIssuer());
    const node = await openNode({ version: 2, roots: [{ issuer: root!.did }], subscriptions: [{ issuer: curator!.did, weight: 0.8 }] });
    try {
      await node.ingestor.ingestMany([endorse(root!, curator!, 1), endorse(curator!, scanner!, 1)]);
      const g = await node.trust();
      expect(g.trust(curator!.did, 'audit').trust).toBeCloseTo(0.25);
      expect(g.trust(scanner!.did, 'audit').trust).toBeGreaterThan(0.25);
    } finally {
      await node.close();
    }
  });
});
