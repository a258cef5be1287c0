import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, describe, expect, it } from 'vitest';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, signNote } from '../../src/tlog/note.js';
import { logOrigin, timeExtension } from '../../src/tlog/witness.js';
import type { Daemon } from '../../node/daemon/daemon.js';
import { LOG_PROTOCOL } from '../../node/net/log-sync.js';
import type { Mirror } from '../../node/tlog/mirror.js';
import { makeIssuer } from '../support/fixtures.js';
import { NetHarness } from '../support/net-harness.js';
import { until as waitFor } from '../support/until.js';

/*
 * What one peer's proof requests on a mirrored log cost the node (SPEC §16.3, §16.6: "mirrored-log
 * proofs over HTTP or libp2p: O(n) reads of one log's leaves"). The node's own log keeps
 * every subtree hash so a proof costs O(log n); a mirrored log rebuilds the tree from disk
 * for every inclusion or consistency request. A peer may make 20 such requests a second
 * (200 at once), any peer, with no node-wide budget: here, what that does to the node.
 */

const net = new NetHarness({ 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

const N = 50_000;
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const mirrorOf = (d: Daemon): Mirror => (d.network!.logSync as unknown as { mirror: Mirror }).mirror;

const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> => waitFor(what, f, ms);

async function ask(h: Libp2p, d: Daemon, body: unknown): Promise<unknown> {
  const stream: Stream = await h.dialProtocol(multiaddr(d.network!.listenAddrs[0]!), LOG_PROTOCOL, { signal: AbortSignal.timeout(20_000) });
  const lp = lpStream(stream, { maxDataLength: 256 * 1024 });
  try {
    await lp.write(enc(body));
    const r = await lp.read({ signal: AbortSignal.timeout(20_000) });
    await stream.close().catch(() => undefined);
    return JSON.parse(new TextDecoder().decode(r.subarray()));
  } catch (e) {
    stream.abort(e as Error);
    return { error: (e as Error).message };
  }
}

describe('proof requests on a mirrored log', () => {
  it(`one peer asking consistency proofs of a mirrored log of ${N.toLocaleString('en')} leaves, within its allowed rate, keeps the node busy`, async () => {
    const k = makeIssuer();
    const ids = Array.from({ length: N }, () => randomBytes(32).toString('hex'));
    const tree = new MerkleTree();
    for (const id of ids) tree.append(leafHash(Buffer.from(id, 'hex')));
    const note = signNote(checkpointText({ origin: logOrigin(k.did), size: N, root: tree.root(), extensions: [timeExtension(Date.now())] }), logOrigin(k.did), k.secretKey);
    // A peer serving the issuer's log (its statements are not served: they stay "missing").
    const source = await net.bareHost();
    await source.handle(LOG_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 256 * 1024 });
      try {
        const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Record<string, unknown>;
        const reply = req['type'] === 'checkpoints' ? { notes: [note] } : req['type'] === 'leaves' ? { ids: ids.slice(req['start'] as number, req['end'] as number) } : req['type'] === 'equivocations' ? { proofs: [] } : { error: 'no' };
        await lp.write(enc(reply));
        await stream.close();
      } catch (e) {
        stream.abort(e as Error);
      }
    }, { runOnLimitedConnection: true });
    const d = await net.node();
    const token = (await readFile(d.node.home.token, 'utf8')).trim();
    const t = await fetch(`${d.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: k.did }) });
    expect(t.status).toBe(200);
    await d.network!.connect(source.getMultiaddrs()[0]!.toString());
    await until('the mirror to verify the log', () => (mirrorOf(d).size(k.did) === N ? true : undefined));

    const attacker = await net.bareHost();
    const one = performance.now();
    const first = (await ask(attacker, d, { type: 'consistency', issuer: k.did, from: 1, to: N })) as { proof?: string[] };
    const single = performance.now() - one;
    expect(first.proof?.length).toBeGreaterThan(0);

    // 3 seconds of the attacker's allowance: 20 requests a second (4 streams at once, the
    // protocol's inbound limit per connection), alternating consistency and inclusion of ids
    // the log does not hold (each a full scan). The node's own API is probed meanwhile.
    const elu0 = performance.eventLoopUtilization();
    const started = performance.now();
    let sent = 0;
    let served = 0;
    let busy = 0;
    const lat: number[] = [];
    let failedProbes = 0;
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const a = performance.now();
        const r = await fetch(`${d.url}/healthz`);
        await r.text();
        if (!r.ok) failedProbes++;
        lat.push(performance.now() - a);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const worker = async () => {
      while (performance.now() - started < 3_000) {
        const due = started + (sent * 1000) / 20;
        if (performance.now() < due) await new Promise((r) => setTimeout(r, due - performance.now()));
        const n = sent++;
        const r = (await ask(attacker, d, n % 2 === 0 ? { type: 'consistency', issuer: k.did, from: 1 + (n % 1000), to: N } : { type: 'inclusion', issuer: k.did, id: randomBytes(32).toString('hex') })) as { error?: string };
        if (r.error === 'busy') busy++;
        else served++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const wall = performance.now() - started;
    stop = true;
    await probe;
    const elu = performance.eventLoopUtilization(elu0);
    lat.sort((a, b) => a - b);
    const p50 = lat[Math.floor(lat.length / 2)] ?? Number.NaN;
    const max = lat[lat.length - 1] ?? Number.NaN;
    console.log(`[tlog-cost] log of ${N} leaves: one consistency proof ${single.toFixed(0)} ms (≈ ${(single * 1_000_000 / N / 1000).toFixed(1)} s at maxLeavesPerIssuer 1,000,000); `
      + `one peer for ${(wall / 1000).toFixed(1)} s: ${sent} requests (${served} served, ${busy} busy), ${(served / (wall / 1000)).toFixed(1)}/s; `
      + `event loop utilisation ${(elu.utilization * 100).toFixed(0)}%; /healthz p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms (${lat.length} probes)`);
    // Every request got an answer (served or busy), and the node's own API answered every
    // probe meanwhile. How much of the node it took (the event loop's share, the probes'
    // latency) is printed above: a figure for the benchmarks, not a test's pass or fail.
    expect(served + busy).toBe(sent);
    expect(lat.length).toBeGreaterThan(0);
    expect(failedProbes).toBe(0);
  }, 60_000);
});
