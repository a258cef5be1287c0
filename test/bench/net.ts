/**
 * Network benchmark: `npm run bench:net` (full) or `npm run bench:net -- --quick`.
 * A benchmark, never a test. All nodes run in this one process, on loopback TCP.
 *
 *   1. Sync cost: two stores of N attestations differing by 50,000 / 1,000 / 10 (quick:
 *      N = 10,000 and differences 5,000 / 100 / 10): bytes, round trips, wall time, against
 *      the missing envelopes' own bytes and the naive "send me all your ids" exchange.
 *   2. Propagation: a network of P nodes (bootstrapped to the first); 1,000 attestations
 *      published from random nodes; time until each is stored on every node.
 *   3. RSS of this process (all P nodes) at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { Network } from '../../node/net/network.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { FIGURE_HEAD, QUICK, fmt, logger, mark, numArg, pct, sleep, table } from './kit.js';

const N = QUICK ? 10_000 : 100_000;
const DIFFS = QUICK ? [5_000, 100, 10] : [50_000, 1_000, 10];
const PEERS = numArg('--peers', QUICK ? 8 : 20);
const PUBLISH = QUICK ? 200 : 1_000;
const log = logger('bench:net');
const silent = makeLogger('silent', false);

interface Peer { node: LocalNode; net: Network }

async function peer(root: string, name: string, bootstrap: string[] = [], syncOnConnect = true): Promise<Peer> {
  const home = resolveHome({}, join(root, name));
  await initHome(home);
  const node = await LocalNode.open(home, {
    env: {},
    overrides: { 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.dht': false, 'net.bootstrap': bootstrap, 'net.syncIntervalSeconds': 3600, 'net.syncOnConnect': syncOnConnect },
  });
  return { node, net: await Network.start(node, silent) };
}

let issuers: TestIssuer[] = [];
let counter = 0;
function lines(n: number): string[] {
  return Array.from({ length: n }, () => makeEnvelopeLine(issuers[counter % issuers.length]!, { fields: { harness: { name: 'bench', version: String(counter++) }, metrics: {}, verdict: 'pass' } }));
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-net-'));
  const rows: string[][] = [];
  const peers: Peer[] = [];
  try {
    issuers = Array.from({ length: 500 }, () => makeIssuer());
    // 1. Sync cost.
    log(`signing ${fmt(N)} attestations…`);
    const base = lines(N);
    const a = await peer(root, 'a');
    // B syncs only when told to, and is disconnected while A's store grows, so neither its
    // own sync-on-connect nor gossip closes the gap before the measured sync.
    const b = await peer(root, 'b', [], false);
    peers.push(a, b);
    log('filling store A…');
    await a.node.ingestor.ingestMany(base, () => {});
    log('filling store B…');
    await b.node.ingestor.ingestMany(base.slice(0, N - DIFFS[0]!), () => {});
    for (const [i, diff] of DIFFS.entries()) {
      if (i > 0) {
        // connect() tagged A keep-alive, which would redial at once: drop the tag first.
        await b.net.host.peerStore.merge(a.net.host.peerId, { tags: { 'keep-alive-chorus': undefined } });
        await b.net.host.hangUp(a.net.host.peerId);
        await a.node.ingestor.ingestMany(lines(diff), () => {});
      }
      await b.net.connect(a.net.listenAddrs[0]!);
      // The bytes of what B lacks, as A stores them.
      const missingBytes = await (async () => {
        const have = new Set((await b.node.store.bySeq()).items.map((x) => x.id));
        let bytes = 0;
        for (const x of (await a.node.store.bySeq()).items) if (!have.has(x.id)) bytes += JSON.stringify(x.envelope).length;
        return bytes;
      })();
      const naive = JSON.stringify({ ids: (await a.node.store.bySeq()).items.map((x) => x.id) }).length + missingBytes;
      const t = performance.now();
      const s = await b.net.sync.syncWith(a.net.host.peerId);
      const wall = performance.now() - t;
      const bytes = s.bytesSent + s.bytesReceived;
      const goal = 1.3 * missingBytes + 64 * 1024;
      rows.push([`sync, stores of ${fmt(a.node.store.size - diff)}+ differing by ${fmt(diff)}`, `${fmt(bytes)} B, ${s.rounds} rounds, ${fmt(wall)} ms, fetched ${fmt(s.fetched)}`, `missing envelopes ${fmt(missingBytes)} B; naive ${fmt(naive)} B`, `<= ${fmt(goal)} B`, mark(bytes <= goal && b.node.store.size === a.node.store.size)]);
      log(rows.at(-1)!.join(' | '));
    }

    // 2. Propagation, in a fresh network of PEERS nodes bootstrapped to the first.
    log(`starting a fresh network of ${PEERS} nodes…`);
    for (const p of peers.splice(0)) {
      await p.net.stop();
      await p.node.close();
    }
    const first = await peer(root, 'n0');
    peers.push(first);
    const boot = [first.net.listenAddrs[0]!];
    for (let i = 1; i < PEERS; i++) peers.push(await peer(root, `n${i}`, boot));
    await sleep(3000); // let the gossip mesh settle
    const arrived = new Map<string, number[]>();
    for (const p of peers) {
      p.node.ingestor.onCommitted((ds) => {
        const now = performance.now();
        for (const d of ds) if (d.outcome === 'accept') (arrived.get(d.id) ?? arrived.set(d.id, []).get(d.id)!).push(now);
      });
    }
    const sentAt = new Map<string, number>();
    for (const line of lines(PUBLISH)) {
      const p = peers[Math.floor(Math.random() * peers.length)]!;
      const t = performance.now();
      const d = await p.node.ingestor.ingest(line);
      if (d.outcome === 'accept') sentAt.set(d.id, t);
      await sleep(5);
    }
    const end = Date.now() + 30_000;
    while ([...sentAt.keys()].some((id) => (arrived.get(id)?.length ?? 0) < PEERS) && Date.now() < end) await sleep(100);
    const lat: number[] = [];
    let complete = 0;
    for (const [id, t0] of sentAt) {
      const times = arrived.get(id) ?? [];
      if (times.length >= PEERS) complete++;
      for (const t of times) lat.push(t - t0);
    }
    lat.sort((x, y) => x - y);
    const share = complete / sentAt.size;
    const reach = new Map<number, number>();
    for (const id of sentAt.keys()) reach.set(arrived.get(id)?.length ?? 0, (reach.get(arrived.get(id)?.length ?? 0) ?? 0) + 1);
    log(`nodes reached per attestation [nodes, attestations]: ${JSON.stringify([...reach].sort((x, y) => x[0] - y[0]))}`);
    rows.push([`propagation, ${PEERS} nodes in one process, ${fmt(PUBLISH)} publishes`, `p50 ${fmt(pct(lat, 0.5), 1)} ms, p99 ${fmt(pct(lat, 0.99), 1)} ms, max ${fmt(lat.at(-1) ?? NaN, 1)} ms`, `delivered to all: ${fmt(share * 100, 1)}%`, '100%, p99 < 1 s', mark(share === 1 && pct(lat, 0.99) < 1000)]);
    log(rows.at(-1)!.join(' | '));

    // 3. Catch-up: a node that was away while CATCHUP attestations were published.
    const CATCHUP = QUICK ? 2_000 : 10_000;
    log(`publishing ${fmt(CATCHUP)} attestations while one node is away…`);
    await first.node.ingestor.ingestMany(lines(CATCHUP), () => {});
    const target = first.node.store.size;
    // Let gossip reach the nodes that are up (they share this process's CPU with the
    // newcomer), then measure the newcomer alone.
    const settle = Date.now() + 180_000;
    while (peers.some((p) => p.node.store.size < target) && Date.now() < settle) await sleep(200);
    const t0 = performance.now();
    const late = await peer(root, 'late', boot);
    peers.push(late);
    const until = Date.now() + 120_000;
    while (late.node.store.size < target && Date.now() < until) await sleep(50);
    const catchUp = performance.now() - t0;
    rows.push([`catch-up: node away while ${fmt(CATCHUP)} were published`, `${fmt(late.node.store.size)}/${fmt(target)} in ${fmt(catchUp / 1000, 1)} s`, 'start to complete', '< 30 s', mark(late.node.store.size >= target && catchUp < 30_000)]);
    log(rows.at(-1)!.join(' | '));
    const rss = process.memoryUsage().rss / 2 ** 20;
    rows.push([`RSS of this process with ${peers.length} nodes`, `${fmt(rss)} MB (${fmt(rss / peers.length, 1)} MB per node)`, '-', '< 250 MB per node', mark(rss / peers.length < 250)]);

    console.log(`\nbench:net — all nodes in one process, loopback TCP${QUICK ? ' (quick)' : ''}`);
    console.log(table(FIGURE_HEAD, rows));
  } finally {
    for (const p of peers) {
      await p.net.stop().catch(() => undefined);
      await p.node.close().catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
  }
}

await main();
