import { lpStream } from '@libp2p/utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTESTATION_TOPIC } from '../../node/net/network.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';
import { MAX_BOUND, MIN_BOUND } from '../../node/net/sync-index.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { TestNet, until, type TestNode } from '../support/test-net.js';

/*
 * Attacks from issue 11, each against real daemons on loopback: what a stranger's peer or
 * HTTP client can make a node do, and that it is bounded.
 */

const net = new TestNet({ 'api.writeRateLimitPerMinute': 1_000_000, 'net.dht': false });
afterAll(() => net.stop());

const node = (overrides: Record<string, unknown> = {}): Promise<TestNode> => net.node(overrides, { prefix: 'chorus-hostile-' });
const post = (d: TestNode, path: string, body: string, type = 'application/json'): Promise<Response> => d.post(path, body, type);

describe('a node survives hostile peers and clients', () => {
  it('overlapping whole-set sync ranges are refused, the sender loses score, is disconnected and refused', async () => {
    const victim = await node();
    const hostile = await node({ 'net.syncOnConnect': false });
    const a = makeIssuer();
    await post(victim, '/v1/import', Array.from({ length: 300 }, () => makeEnvelopeLine(a)).join('\n'), 'application/x-ndjson');
    await hostile.network!.connect(victim.network!.listenAddrs[0]!);
    const whole = { lo: [...MIN_BOUND], hi: [...MAX_BOUND], fp: 'f'.repeat(32), n: 1 };
    const ask = async (): Promise<'answered' | 'refused'> => {
      try {
        const stream = await hostile.network!.host.dialProtocol(victim.network!.host.peerId, SYNC_PROTOCOL, { signal: AbortSignal.timeout(5000) });
        const lp = lpStream(stream);
        await lp.write(new TextEncoder().encode(JSON.stringify({ type: 'reconcile', ranges: Array.from({ length: 512 }, () => whole) })));
        await lp.read({ signal: AbortSignal.timeout(5000) });
        return 'answered';
      } catch {
        return 'refused';
      }
    };
    expect(await ask()).toBe('refused');
    expect(victim.network!.penalties.score(hostile.network!.peerId)).toBeLessThan(0);
    await ask();
    await ask();
    await until('hostile disconnected', () => victim.network!.host.getConnections(hostile.network!.host.peerId).length === 0);
    // Refused at the connection gate: a redial never becomes a connection the victim keeps.
    expect(victim.network!.penalties.isBlocked(hostile.network!.peerId)).toBe(true);
    await hostile.network!.connect(victim.network!.listenAddrs[0]!).catch(() => undefined);
    await until('redial dropped', () => victim.network!.host.getConnections(hostile.network!.host.peerId).length === 0);
    expect(await ask()).toBe('refused');
    // The victim is unharmed: it serves, and still syncs with honest peers.
    expect((await fetch(`${victim.url}/healthz`)).status).toBe(200);
    const honest = await node();
    // The victim dials it: on loopback every peer shares the blocked peer's address, which
    // the connection gate paces for inbound connections while the block lasts.
    await victim.network!.connect(honest.network!.listenAddrs[0]!);
    await until('honest peer caught up', () => honest.node.store.size === 300);
  }, 60_000);

  it('a peer gossiping pre-1970 envelopes among honest traffic costs no honest attestation, and is graylisted', async () => {
    const a = await node();
    const honestPeer = await node({ 'net.bootstrap': [a.network!.listenAddrs[0]!] });
    const hostile = await node({ 'net.bootstrap': [a.network!.listenAddrs[0]!] });
    await until('mesh', () => a.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).length >= 2
      && hostile.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === a.network!.peerId)
      && honestPeer.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === a.network!.peerId));
    const bad = makeIssuer();
    const good = makeIssuer();
    const flood = (async () => {
      for (let i = 0; i < 200; i++) {
        const line = makeEnvelopeLine(bad, { issuedAt: new Date(-1000 - i * 1000) });
        await hostile.network!.host.services.pubsub.publish(ATTESTATION_TOPIC, new TextEncoder().encode(line)).catch(() => undefined);
      }
    })();
    const honest = Array.from({ length: 50 }, (_, i) => makeEnvelopeLine(good, { fields: exampleFields('audit', { metrics: { run: i } }) }));
    for (const line of honest) await honestPeer.network!.publish(line);
    await flood;
    await until('all honest arrived', async () => (await a.node.store.byIssuer(good.did)).items.length === 50);
    expect((await a.node.store.byIssuer(bad.did)).items).toHaveLength(0);
    // Scores are refreshed on gossipsub's heartbeat.
    await until('hostile graylisted', () => a.network!.host.services.pubsub.getScore(hostile.network!.peerId) < -30);
  }, 60_000);

  it('a digest flooded with untrusted attestations: the view lists what counts plus a page, the batch query dedupes', async () => {
    const d = await node({ 'net.enabled': false });
    const digest = randomDigest();
    const strangers = Array.from({ length: 50 }, () => makeIssuer());
    const lines = Array.from({ length: 3000 }, (_, i) => makeEnvelopeLine(strangers[i % 50]!, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail', metrics: { run: i } }) }));
    const lab = makeIssuer();
    lines.push(makeEnvelopeLine(lab, { subjects: [digest] }));
    const imported = await post(d, '/v1/import', lines.join('\n'), 'application/x-ndjson');
    expect(imported.status).toBe(200);
    const put = await fetch(`${d.url}/v1/trust`, { method: 'PUT', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ issuers: [{ issuer: lab.did, note: 'lab' }] }) });
    expect(put.status).toBe(200);

    const res = await fetch(`${d.url}/v1/models/sha256:${digest}/reputation?lookup=false`);
    const body = await res.text();
    expect(body.length).toBeLessThan(64 * 1024);
    const view = JSON.parse(body) as { status: string; evidence: { total: number; listed: number; omitted: number }; byPredicate: Record<string, { counted: number; attestations: { reason: string }[] }> };
    // The stranger's 3,000 fails do not count; the lab's pass does.
    expect(view.status).toBe('ok');
    expect(view.evidence).toEqual({ total: 3001, listed: 21, omitted: 2980 });
    expect(view.byPredicate.audit!.counted).toBe(1);
    expect(view.byPredicate.audit!.attestations.filter((a) => a.reason === 'untrusted')).toHaveLength(20);

    const q = await fetch(`${d.url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ digests: Array.from({ length: 1000 }, () => `sha256:${digest}`) }) });
    expect(q.status).toBe(200);
    const { results } = (await q.json()) as { results: { status: string }[] };
    expect(results).toHaveLength(1000);
    expect(results.every((r) => r.status === 'ok')).toBe(true);
  }, 120_000);

  it('attestations that expired are left out of the sync set: two nodes with the same live data converge with zero fetches; GC deletes them after the grace period, never retractions', async () => {
    const a = await node();
    const issuer = makeIssuer();
    const live = Array.from({ length: 20 }, (_, i) => makeEnvelopeLine(issuer, { fields: exampleFields('audit', { metrics: { run: i } }) }));
    const soon = new Date(Date.now() + 1500);
    const expiring = Array.from({ length: 30 }, (_, i) => makeEnvelopeLine(issuer, { expiresAt: soon, fields: exampleFields('audit', { metrics: { run: 100 + i } }) }));
    await post(a, '/v1/import', [...live, ...expiring].join('\n'), 'application/x-ndjson');
    expect(a.node.store.size).toBe(50);
    // A retraction that carries an expiry: it withdraws its target for good.
    const target = (await a.node.store.byIssuer(issuer.did, { limit: 1 })).items[0]!;
    const retraction = makeEnvelopeLine(issuer, { kind: 'retraction', subjects: [target.statement.subject[0]!.digest.sha256], fields: { target: target.id }, expiresAt: soon });
    await fetch(`${a.url}/v1/trust`, { method: 'PUT', headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ issuers: [{ issuer: issuer.did }] }) });
    expect((await post(a, '/v1/attestations', retraction)).status).toBe(201);
    await until('the 30 have expired', () => Date.now() > soon.getTime() + 100);
    const b = await node({ 'net.syncOnConnect': false });
    await post(b, '/v1/import', [...live, retraction].join('\n'), 'application/x-ndjson');
    await b.network!.connect(a.network!.listenAddrs[0]!);
    const first = await b.network!.syncWith(a.network!.host.peerId);
    expect(first).toMatchObject({ fetched: 0, accepted: 0 });
    expect(first!.rounds).toBe(1);
    // GC: not before the grace period; after it, the 30 expired go and the 20 live stay.
    expect(await a.node.collectExpired()).toBe(0);
    expect(await a.node.collectExpired(Date.now() + 8 * 86_400_000)).toBe(30);
    expect(a.node.store.size).toBe(21);
    const view = await a.node.view(target.statement.subject[0]!.digest.sha256);
    expect(view.byPredicate.audit!.attestations.find((x) => x.id === target.id)).toMatchObject({ reason: 'retracted', counts: false });
    expect(await a.node.store.subjectCount(JSON.parse(Buffer.from((JSON.parse(expiring[0]!) as { payload: string }).payload, 'base64').toString()).subject[0].digest.sha256)).toBe(0);
  }, 60_000);

  it('a sync server that splits every range forever costs a bounded session; an honest catch-up of 15,000 completes', async () => {
    const liar = await node({ 'net.syncOnConnect': false });
    const victim = await node({ 'net.syncOnConnect': false });
    await liar.network!.host.unhandle(SYNC_PROTOCOL);
    let asked = 0;
    await liar.network!.host.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 });
      const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { type: string; ranges: { lo: [number, string]; hi: [number, string] }[] };
      asked++;
      if (req.type !== 'reconcile') {
        await lp.write(new TextEncoder().encode(JSON.stringify({ envelopes: [] })));
        await stream.close();
        return;
      }
      // Every range "differs": split into 8 legal parts inside it while it is wide, then
      // 32 made-up ids; whatever the victim asks, there is always more.
      const answer = (r: { lo: [number, string]; hi: [number, string] }) => {
        const lo = r.lo[0];
        const hi = Math.min(r.hi[0], lo + 8 ** 12);
        const step = Math.floor((hi - lo) / 8);
        if (step < 1) return { lo: r.lo, hi: r.hi, ids: Array.from({ length: 32 }, () => randomDigest()) };
        return { lo: r.lo, hi: r.hi, parts: Array.from({ length: 8 }, (_, i) => ({ lo: i === 0 ? r.lo : [lo + i * step, ''], hi: i === 7 ? r.hi : [lo + (i + 1) * step, ''], fp: 'e'.repeat(32), n: 99 })) };
      };
      await lp.write(new TextEncoder().encode(JSON.stringify({ ranges: req.ranges.map(answer) })));
      await stream.close();
    }, { maxInboundStreams: 8 });
    await victim.network!.connect(liar.network!.listenAddrs[0]!);
    const heapBefore = process.memoryUsage().heapUsed;
    const stats = await victim.network!.sync.syncWith(liar.network!.host.peerId);
    expect(stats.fetched).toBe(0);
    expect(asked).toBeLessThanOrEqual(1000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);

    // An honest peer with 15,000 (reconcile replies that once passed 1 MiB at this size).
    const full = await node({ 'net.syncOnConnect': false });
    const issuers = Array.from({ length: 100 }, () => makeIssuer());
    await full.node.ingestor.ingestMany(Array.from({ length: 15_000 }, (_, i) => makeEnvelopeLine(issuers[i % 100]!)), () => {});
    const fresh = await node({ 'net.syncOnConnect': false });
    await fresh.network!.connect(full.network!.listenAddrs[0]!);
    const caught = await fresh.network!.sync.syncWith(full.network!.host.peerId);
    expect(caught.accepted).toBe(15_000);
    expect(fresh.node.store.size).toBe(15_000);
    // Catching up is not abuse.
    expect(full.network!.penalties.score(fresh.network!.peerId)).toBe(0);
  }, 180_000);

  it('a view costs what counts: 2,000 trusted issuers are read in one pass; one prolific trusted issuer counts with its newest 1,000', async () => {
    const d = await node({ 'net.enabled': false });
    const lab = makeIssuer();
    const friend = makeIssuer();
    const many = Array.from({ length: 2000 }, () => makeIssuer().did);
    const put = await fetch(`${d.url}/v1/trust`, { method: 'PUT', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ issuers: [lab.did, friend.did, ...many].map((issuer) => ({ issuer })) }) });
    expect(put.status).toBe(200);
    const digest = randomDigest();
    const lines = Array.from({ length: 1200 }, (_, i) => makeEnvelopeLine(lab, { subjects: [digest], issuedAt: new Date(Date.now() - 3_600_000 + i * 1000), fields: exampleFields('audit', { metrics: { run: i } }) }));
    lines.push(makeEnvelopeLine(friend, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail' }) }));
    await post(d, '/v1/import', lines.join('\n'), 'application/x-ndjson');
    const view = (await (await fetch(`${d.url}/v1/models/sha256:${digest}/reputation?lookup=false`)).json()) as { status: string; evidence: { total: number; listed: number }; byPredicate: Record<string, { counted: number }> };
    // The lab's newest pass against the friend's fail: a dispute. The lab's other 999 listed
    // audits are superseded; of its 200 oldest only the first 20 stored are listed.
    expect(view.status).toBe('disputed');
    expect(view.evidence).toMatchObject({ total: 1201, listed: 1021 }); // its newest 1,000, the friend's, and the 20 first stored
    expect(view.byPredicate.audit!.counted).toBe(2);
    // A digest with few attestations among thousands of trusted issuers: the keys pass.
    const small = randomDigest();
    await post(d, '/v1/import', [makeEnvelopeLine(friend, { subjects: [small] }), makeEnvelopeLine(makeIssuer(), { subjects: [small] })].join('\n'), 'application/x-ndjson');
    const v2 = (await (await fetch(`${d.url}/v1/models/sha256:${small}/reputation?lookup=false`)).json()) as { status: string; evidence: { total: number; listed: number }; byPredicate: Record<string, { counted: number }> };
    expect(v2).toMatchObject({ status: 'ok', evidence: { total: 2, listed: 2 } });
    expect(v2.byPredicate.audit!.counted).toBe(1);
  }, 120_000);
});
