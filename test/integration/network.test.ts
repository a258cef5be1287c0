import { afterAll, describe, expect, it } from 'vitest';
import { ATTESTATION_TOPIC } from '../../node/net/network.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';
import { lpStream } from '@libp2p/utils';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { TestNet, until, type TestNode } from '../support/test-net.js';

// Each test starts the nodes it needs: none depends on what an earlier one left behind.
const net = new TestNet({ 'api.writeRateLimitPerMinute': 1_000_000 });
afterAll(() => net.stop());

const node = (opts: { bootstrap?: string[] } = {}): Promise<TestNode> => net.node({ 'net.bootstrap': opts.bootstrap ?? [] });
const publish = (d: TestNode, body: string): Promise<Response> => d.publish(body);

describe('the network: real libp2p nodes on loopback', () => {
  it('an attestation published on one node reaches every node by gossip', async () => {
    const a = await node();
    const addrA = a.network!.listenAddrs[0]!;
    const b = await node({ bootstrap: [addrA] });
    const c = await node({ bootstrap: [addrA] });
    await until('B and C connected to A', async () => (await a.network!.peers()).length >= 2);
    await until('gossip mesh', () => a.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).length >= 2);

    const digest = randomDigest();
    const r = await publish(a, makeEnvelopeLine(makeIssuer(), { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail' }) }));
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    await until('B has it', async () => (await b.node.store.has(id)));
    await until('C has it', async () => (await c.node.store.has(id)));
    // Each node answers from its own store.
    const view = (await (await fetch(`${c.url}/v1/models/${digest}/reputation`)).json()) as { byPredicate: { audit: { total: number } } };
    expect(view.byPredicate.audit.total).toBe(1);
    const peers = (await (await fetch(`${a.url}/v1/peers`)).json()) as { peers: { peerId: string; gossipScore: number }[] };
    expect(peers.peers.map((p) => p.peerId).sort()).toEqual([b.network!.peerId, c.network!.peerId].sort());
  });

  it('a node that was away catches up by sync, exchanging bytes in proportion to the difference', async () => {
    const issuers = Array.from({ length: 20 }, () => makeIssuer());
    const lines = Array.from({ length: 2000 }, (_, i) => makeEnvelopeLine(issuers[i % 20]!, { fields: exampleFields('audit', { metrics: { i } }) }));
    const [a, d] = await Promise.all([node(), node()]);
    // Both hold the same 2,000 attestations; A then gets 10 more while D is not connected.
    await a.node.ingestor.ingestMany(lines);
    await d.node.ingestor.ingestMany(lines);
    const extra = Array.from({ length: 10 }, (_, i) => makeEnvelopeLine(issuers[i]!, { fields: exampleFields('audit', { metrics: { extra: i } }) }));
    await a.node.ingestor.ingestMany(extra);
    const before = d.node.store.size;
    const missing = a.node.store.size - before; // the 10 extra
    const peerA = await d.network!.connect(a.network!.listenAddrs[0]!);
    expect(peerA).toBe(a.network!.peerId);
    const stats = await d.network!.sync.syncWith(a.network!.host.peerId);
    // The sync that `connect` starts on its own may have fetched some of them first.
    expect(stats.fetched).toBeLessThanOrEqual(missing);
    await until('D caught up', () => d.node.store.size >= a.node.store.size);
    expect(d.node.store.size).toBe(a.node.store.size);
    // A full copy would move ~1.6 MB of envelopes; reconciliation moves a few kilobytes
    // plus the ten missing envelopes.
    expect(stats.bytesSent + stats.bytesReceived).toBeLessThan(60_000);
    // A second sync finds nothing to do in one round.
    const again = await d.network!.sync.syncWith(a.network!.host.peerId);
    expect(again).toMatchObject({ rounds: 1, fetched: 0 });
  });

  it('a peer gossiping invalid attestations is rejected, graylisted, and stores nothing', { timeout: 40_000 }, async () => {
    const a = await node();
    const hostile = await node({ bootstrap: [a.network!.listenAddrs[0]!] });
    await until('hostile connected', async () => (await a.network!.peers()).some((p) => p.peerId === hostile.network!.peerId));
    await until('hostile subscribed', () => a.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === hostile.network!.peerId));
    // Both sides must see each other subscribed, or the hostile publish reaches nobody.
    await until('hostile sees A subscribed', () => hostile.network!.host.services.pubsub.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === a.network!.peerId));
    const before = a.node.store.size;
    const forged = JSON.parse(makeEnvelopeLine(makeIssuer())) as { signatures: { sig: string }[] };
    forged.signatures[0]!.sig = Buffer.alloc(64, 7).toString('base64');
    // Published straight on the topic, so the hostile node's own validator is bypassed;
    // kept up (each message distinct) until A's score for it crosses the graylist line.
    let n = 0;
    await until('score falls below the graylist threshold', async () => {
      for (const data of [`garbage ${n}`, JSON.stringify({ ...forged, n }), `{"payloadType":${n}}`]) {
        await hostile.network!.host.services.pubsub.publish(ATTESTATION_TOPIC, new TextEncoder().encode(data)).catch(() => undefined);
      }
      n++;
      await new Promise((r) => setTimeout(r, 300));
      return a.network!.host.services.pubsub.getScore(hostile.network!.peerId) < -30;
    }, 20_000);
    expect(a.node.store.size).toBe(before);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  });

  it('a Reject on a topic without score params penalises nobody (why the attestation topic has them)', { timeout: 30_000 }, async () => {
    const a = await node();
    const sender = await node({ bootstrap: [a.network!.listenAddrs[0]!] });
    const TOPIC = '/chorus/test-no-score/1';
    const psA = a.network!.host.services.pubsub;
    const { TopicValidatorResult } = await import('@libp2p/gossipsub');
    let rejected = 0;
    psA.topicValidators.set(TOPIC, () => {
      rejected++;
      return TopicValidatorResult.Reject;
    });
    psA.subscribe(TOPIC);
    sender.network!.host.services.pubsub.subscribe(TOPIC);
    await until('sender subscribed', () => psA.getSubscribers(TOPIC).some((p) => p.toString() === sender.network!.peerId));
    await until('sender sees A subscribed', () => sender.network!.host.services.pubsub.getSubscribers(TOPIC).some((p) => p.toString() === a.network!.peerId));
    const before = psA.getScore(sender.network!.peerId);
    for (let i = 0; i < 5; i++) await sender.network!.host.services.pubsub.publish(TOPIC, new TextEncoder().encode(`junk ${i}`)).catch(() => undefined);
    await until('A rejected all five', () => rejected === 5);
    await net.heartbeats(a, 2); // scores are recomputed each heartbeat: one full heartbeat after the rejects
    expect(psA.getScore(sender.network!.peerId)).toBeGreaterThanOrEqual(Math.min(before, 0));
    expect(psA.getScore(sender.network!.peerId)).toBeGreaterThan(-1);
    psA.unsubscribe(TOPIC);
  });

  it('a lying, flooding or stalling sync peer costs a bounded session; the node stays healthy', async () => {
    const liar = await node();
    const victim = await node();
    await liar.network!.host.unhandle(SYNC_PROTOCOL);
    let mode: 'split-forever' | 'huge' | 'stall' = 'split-forever';
    await liar.network!.host.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 });
      const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { ranges?: { lo: unknown; hi: unknown }[] };
      if (mode === 'stall') return; // never answer
      if (mode === 'huge') {
        await lp.write(new Uint8Array(2 * 1024 * 1024).fill(0x20)).catch(() => undefined);
        return;
      }
      // Claim every range differs, forever, with made-up fingerprints.
      const parts = (r: { lo: unknown; hi: unknown }) => Array.from({ length: 8 }, () => ({ lo: r.lo, hi: r.hi, fp: 'f'.repeat(32), n: 1000 }));
      await lp.write(new TextEncoder().encode(JSON.stringify({ ranges: (req.ranges ?? []).slice(0, 60).map((r) => ({ lo: r.lo, hi: r.hi, parts: parts(r) })) })));
      await stream.close();
    }, { maxInboundStreams: 8 });
    await victim.network!.connect(liar.network!.listenAddrs[0]!);
    const liarId = liar.network!.host.peerId;

    // Endless splitting into parts that are not inside their range: a broken reply, and the liar pays for it.
    await expect(victim.network!.sync.syncWith(liarId)).rejects.toThrow(/broke the sync protocol/);
    expect(victim.network!.penalties.score(liarId.toString())).toBeLessThan(0);
    // An oversized reply is refused by the length limit.
    mode = 'huge';
    await expect(victim.network!.sync.syncWith(liarId)).rejects.toThrow(/too long|length/i);
    // A stalled peer times out.
    mode = 'stall';
    // A stalled peer times out: the request's own deadline ends the session, not the test's timeout
    // (the deadline aborts the stream, so it surfaces as the timeout or as the reset it causes).
    await expect(victim.network!.sync.syncWith(liarId)).rejects.toMatchObject({ name: expect.stringMatching(/^(TimeoutError|StreamResetError|AbortError)$/) });
    expect(victim.node.store.size).toBe(0);
    expect((await fetch(`${victim.url}/healthz`)).status).toBe(200);
  }, 40_000);

  it('a node that was stopped catches up after a restart', async () => {
    // A holds something to catch up on before the first start.
    const a = await node();
    await a.node.ingestor.ingestMany(Array.from({ length: 20 }, (_, i) => makeEnvelopeLine(makeIssuer(), { fields: exampleFields('audit', { metrics: { before: i } }) })));
    // Reconcile every 5 s (the least allowed): a sync on connect that times out on a loaded machine is retried.
    const opts = { 'net.bootstrap': [a.network!.listenAddrs[0]!], 'net.syncIntervalSeconds': 5 };
    const first = await net.node(opts);
    await until('caught up at first start', () => first.node.store.size >= a.node.store.size, 40_000);
    const peerId = first.network!.peerId;
    await first.stop();
    const fresh = Array.from({ length: 50 }, (_, i) => makeEnvelopeLine(makeIssuer(), { fields: exampleFields('audit', { metrics: { whileAway: i } }) }));
    await a.node.ingestor.ingestMany(fresh);
    const again = await net.node(opts, { home: first.home });
    expect(again.network!.peerId).toBe(peerId); // same peer identity across restarts
    await until('caught up after restart', () => again.node.store.size >= a.node.store.size, 40_000);
    expect(again.node.store.size).toBe(a.node.store.size);
  }, 100_000);

  it('partition: two halves publish apart, then heal and converge to the same set', async () => {
    const [left, right] = await Promise.all([net.nodes(3), net.nodes(3)]);
    await until('halves formed', async () => (await left[0]!.network!.peers()).length >= 2 && (await right[0]!.network!.peers()).length >= 2);
    await Promise.all([net.meshed(left[0]!, left.slice(1)), net.meshed(right[0]!, right.slice(1))]);
    const publishOn = async (side: typeof left, n: number, tag: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const r = await publish(side[i % side.length]!, makeEnvelopeLine(makeIssuer(), { fields: exampleFields('audit', { metrics: { [tag]: i } }) }));
        expect(r.status).toBe(201);
      }
    };
    await publishOn(left, 9, 'left');
    await publishOn(right, 6, 'right');
    const all = [...left, ...right];
    const sizes = () => all.map((d) => d.node.store.size);
    await until('each half has its own', () => left.every((d) => d.node.store.size === 9) && right.every((d) => d.node.store.size === 6));
    // Heal: one link across the partition.
    await left[1]!.network!.connect(right[2]!.network!.listenAddrs[0]!);
    await until('all six converge', () => sizes().every((n) => n === 15), 30_000);
    const sets = await Promise.all(all.map(async (d) => (await d.node.store.bySeq()).items.map((a) => a.id).sort().join(',')));
    expect(new Set(sets).size).toBe(1);
  }, 60_000);
});
