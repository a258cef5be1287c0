import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initHome, resolveHome } from '../../node/home/home.js';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { ATTESTATION_TOPIC } from '../../node/net/network.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';
import { lpStream } from '@libp2p/utils';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';

const dirs: string[] = [];
const daemons: Daemon[] = [];

async function node(opts: { bootstrap?: string[] } = {}): Promise<Daemon & { token: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-net-'));
  dirs.push(dir);
  const home = resolveHome({}, dir);
  await initHome(home);
  const d = await startDaemon(home, {
    env: {},
    overrides: {
      'api.port': 0,
      'api.writeRateLimitPerMinute': 1_000_000,
      'net.listen': ['/ip4/127.0.0.1/tcp/0'],
      'net.mdns': false,
      'net.bootstrap': opts.bootstrap ?? [],
    },
    logger: makeLogger('silent', false),
  });
  daemons.push(d);
  return Object.assign(d, { token: (await readFile(home.token, 'utf8')).trim() });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const publish = (d: Daemon & { token: string }, body: string) =>
  fetch(`${d.url}/v1/attestations`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body });

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop().catch(() => undefined)));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('the network: real libp2p nodes on loopback', () => {
  let a: Daemon & { token: string };
  let b: Daemon & { token: string };
  let c: Daemon & { token: string };

  it('an attestation published on one node reaches every node by gossip', async () => {
    a = await node();
    const addrA = a.network!.listenAddrs[0]!;
    b = await node({ bootstrap: [addrA] });
    c = await node({ bootstrap: [addrA] });
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
    const d = await node();
    // Both hold the same 2,000 attestations; A then gets 10 more while D is not connected.
    await a.node.ingestor.ingestMany(lines);
    await d.node.ingestor.ingestMany(lines);
    const extra = Array.from({ length: 10 }, (_, i) => makeEnvelopeLine(issuers[i]!, { fields: exampleFields('audit', { metrics: { extra: i } }) }));
    await a.node.ingestor.ingestMany(extra);
    const before = d.node.store.size;
    const missing = a.node.store.size - before; // the 10 extra, and what A got by gossip earlier
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
    const sender = await node({ bootstrap: [a.network!.listenAddrs[0]!] });
    const TOPIC = '/chorus/test-no-score/1';
    const psA = a.network!.host.services.pubsub;
    const { TopicValidatorResult } = await import('@libp2p/gossipsub');
    psA.topicValidators.set(TOPIC, () => TopicValidatorResult.Reject);
    psA.subscribe(TOPIC);
    sender.network!.host.services.pubsub.subscribe(TOPIC);
    await until('sender subscribed', () => psA.getSubscribers(TOPIC).some((p) => p.toString() === sender.network!.peerId));
    const before = psA.getScore(sender.network!.peerId);
    for (let i = 0; i < 5; i++) await sender.network!.host.services.pubsub.publish(TOPIC, new TextEncoder().encode(`junk ${i}`)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500)); // scores are recomputed each heartbeat
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
    const t = Date.now();
    await expect(victim.network!.sync.syncWith(liarId)).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(15_000);
    expect(victim.node.store.size).toBe(0);
    expect((await fetch(`${victim.url}/healthz`)).status).toBe(200);
  }, 40_000);

  it('a node that was stopped catches up after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-net-'));
    dirs.push(dir);
    const home = resolveHome({}, dir);
    await initHome(home);
    // Reconcile every 5 s (the least allowed): a sync on connect that times out on a loaded machine is retried.
    const opts = { env: {}, overrides: { 'api.port': 0, 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.bootstrap': [a.network!.listenAddrs[0]!], 'net.syncIntervalSeconds': 5 }, logger: makeLogger('silent', false) };
    const first = await startDaemon(home, opts);
    await until('caught up at first start', () => first.node.store.size >= a.node.store.size, 40_000);
    const peerId = first.network!.peerId;
    await first.stop();
    const fresh = Array.from({ length: 50 }, (_, i) => makeEnvelopeLine(makeIssuer(), { fields: exampleFields('audit', { metrics: { whileAway: i } }) }));
    await a.node.ingestor.ingestMany(fresh);
    const again = await startDaemon(home, opts);
    daemons.push(again);
    expect(again.network!.peerId).toBe(peerId); // same peer identity across restarts
    await until('caught up after restart', () => again.node.store.size >= a.node.store.size, 40_000);
    expect(again.node.store.size).toBe(a.node.store.size);
  }, 100_000);

  it('partition: two halves publish apart, then heal and converge to the same set', async () => {
    const left = [await node()];
    const right = [await node()];
    for (let i = 0; i < 2; i++) {
      left.push(await node({ bootstrap: [left[0]!.network!.listenAddrs[0]!] }));
      right.push(await node({ bootstrap: [right[0]!.network!.listenAddrs[0]!] }));
    }
    await until('halves formed', async () => (await left[0]!.network!.peers()).length >= 2 && (await right[0]!.network!.peers()).length >= 2);
    await new Promise((r) => setTimeout(r, 1500)); // gossip mesh
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
