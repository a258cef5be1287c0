/**
 * Devnet benchmark: `npm run bench:devnet` (20 nodes) or `npm run bench:devnet -- --quick` (8).
 * A benchmark, never a test. Every node is its own `chorus start` process (the built CLI)
 * with its own data dir, on loopback TCP, bootstrapped to the first, with the default
 * network configuration (DHT, provider records, AutoNAT, relay auto, DCUtR; UPnP off:
 * loopback has no router). Measures:
 *   1. Propagation: PUBLISH attestations POSTed to random nodes; the time from each POST
 *      until each node's event stream (GET /v1/events, SSE) reports it.
 *   2. CPU of all node processes together (utime + stime from /proc), idle and while
 *      publishing, against the machine's cores.
 *   3. Provider records: how long after the last publish every node's announcement queue
 *      is empty (announcements wait for a quiet moment), and how many were made.
 *   4. Memory: each node process's RSS (VmRSS) at the end.
 * Reference printed beside propagation: the same publishes' local acceptance (the POST's
 * own response time), measured in the same run.
 * Options: --quick (8 nodes, 200 publishes), --nodes N, --publish N, --net JSON (network
 * options for every node's config.json), --cpu-prof DIR (V8 profile of node n1);
 * BENCH_N1_DEBUG=pattern runs n1 with DEBUG=pattern into chorus-bench-n1.debug.log.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { FIGURE_HEAD, QUICK, arg, cliEnv, cpuSeconds, daemonUrl, fmt, logger, mark, numArg, outputTail, pct, rssMB, runCli, sleep, spawnCli, sseEvents, stopChild, table } from './kit.js';

const NODES = numArg('--nodes', QUICK ? 8 : 20);
const PUBLISH = numArg('--publish', QUICK ? 200 : 1_000);
/** `--cpu-prof DIR`: node n1 writes a V8 CPU profile into DIR when it stops. */
const PROF = arg('--cpu-prof') !== undefined ? resolve(arg('--cpu-prof')!) : undefined;
/** `--net JSON`: network options written into every node's config.json (e.g. '{"autonat":false}'). */
const NET = arg('--net') !== undefined ? (JSON.parse(arg('--net')!) as Record<string, unknown>) : undefined;
const log = logger('bench:devnet');

interface Proc { child: ChildProcess; home: string; url: string; token: string }

async function startNode(root: string, name: string, bootstrap: string[]): Promise<Proc> {
  const home = join(root, name);
  await runCli(['init'], home);
  if (NET) await writeFile(join(home, 'config.json'), JSON.stringify({ net: NET }, null, 2));
  const args = ['start', '--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-upnp', '--log-level', 'warn', ...(bootstrap.length ? ['--bootstrap', ...bootstrap] : [])];
  const prof = PROF && name === 'n1' ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [];
  // BENCH_N1_DEBUG=pattern: node n1 runs with DEBUG=pattern, its stderr into chorus-bench-n1.debug.log in the temp dir.
  const debug = name === 'n1' && process.env['BENCH_N1_DEBUG'] ? { DEBUG: process.env['BENCH_N1_DEBUG'] } : {};
  const child = spawnCli(args, { home, env: { ...cliEnv(home), ...debug }, nodeArgs: prof, stdio: ['ignore', 'pipe', 'pipe'] });
  if ('DEBUG' in debug) child.stderr?.pipe(createWriteStream(join(tmpdir(), 'chorus-bench-n1.debug.log')));
  const out = outputTail(child);
  const url = await daemonUrl(child, home, { timeoutMs: 30_000, what: () => `${name}: ${out()}` });
  return { child, home, url, token: (await readFile(join(home, 'api-token'), 'utf8')).trim() };
}

/** Follows a node's event stream, calling `seen(id)` for each accepted attestation. */
async function follow(p: Proc, signal: AbortSignal, seen: (id: string) => void): Promise<void> {
  const res = await fetch(`${p.url}/v1/events`, { signal });
  try {
    for await (const ev of sseEvents(res.body!)) if (ev.data) seen((JSON.parse(ev.data) as { id: string }).id);
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

const cpuAll = (procs: Proc[]): Promise<number[]> => Promise.all(procs.map((p) => cpuSeconds(p.child.pid!)));

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-devnet-'));
  const procs: Proc[] = [];
  const streams = new AbortController();
  try {
    log(`starting ${NODES} chorus processes…`);
    const first = await startNode(root, 'n0', []);
    procs.push(first);
    const status = (await (await fetch(`${first.url}/v1/status`)).json()) as { network: { listen: string[] } };
    const boot = [status.network.listen[0]!];
    // A few at a time: each start is a Node process loading the CLI on a 2-core machine.
    for (let i = 1; i < NODES; i += 4) {
      procs.push(...(await Promise.all(Array.from({ length: Math.min(4, NODES - i) }, (_, k) => startNode(root, `n${i + k}`, boot)))));
    }
    const t0 = performance.now();
    const meshed = async () => (await Promise.all(procs.map(async (p) => ((await (await fetch(`${p.url}/v1/peers`)).json()) as { peers: unknown[] }).peers.length))).every((n) => n >= 1);
    while (!(await meshed())) await sleep(200);
    log(`all connected in ${fmt((performance.now() - t0) / 1000, 1)} s; 10 s to settle, then 10 s measuring idle CPU…`);
    await sleep(10_000); // let the gossip mesh and the DHT's first queries settle
    const idle0 = await cpuAll(procs);
    await sleep(10_000);
    const idle1 = await cpuAll(procs);
    const idleShare = idle1.reduce((a, x, i) => a + x - idle0[i]!, 0) / 10; // cores busy, all nodes together

    const arrived = new Map<string, number[]>();
    const following = procs.map((p) => follow(p, streams.signal, (id) => (arrived.get(id) ?? arrived.set(id, []).get(id)!).push(performance.now())));
    await sleep(500);

    const issuers = Array.from({ length: 50 }, () => makeIssuer());
    const bodies = Array.from({ length: PUBLISH }, (_, i) => makeEnvelopeLine(issuers[i % issuers.length]!, { fields: { harness: { name: 'bench-devnet', version: String(i) }, metrics: {}, verdict: 'pass' } }));
    log(`publishing ${fmt(PUBLISH)} attestations to random nodes…`);
    const sentAt = new Map<string, number>();
    const accepted: number[] = [];
    const busy0 = await cpuAll(procs);
    const tPub = performance.now();
    for (const [n, body] of bodies.entries()) {
      if (n > 0 && n % 100 === 0) log(`  ${fmt(n)} published, ${fmt((performance.now() - tPub) / 1000, 1)} s`);
      const p = procs[Math.floor(Math.random() * procs.length)]!;
      const t = performance.now();
      const r = await fetch(`${p.url}/v1/attestations`, { method: 'POST', headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' }, body });
      accepted.push(performance.now() - t);
      if (r.status === 201) sentAt.set(((await r.json()) as { id: string }).id, t);
      else log(`publish answered ${r.status}: ${await r.text()}`);
      await sleep(5);
    }
    const end = Date.now() + 30_000;
    while ([...sentAt.keys()].some((id) => (arrived.get(id)?.length ?? 0) < NODES) && Date.now() < end) await sleep(100);

    const busy1 = await cpuAll(procs);
    const pubSeconds = (performance.now() - tPub) / 1000;
    const busyShare = busy1.reduce((a, x, i) => a + x - busy0[i]!, 0) / pubSeconds;
    const lat: number[] = [];
    let complete = 0;
    for (const [id, t] of sentAt) {
      const times = arrived.get(id) ?? [];
      if (times.length >= NODES) complete++;
      for (const x of times) lat.push(x - t);
    }
    lat.sort((x, y) => x - y);
    accepted.sort((x, y) => x - y);
    const share = sentAt.size === 0 ? 0 : complete / sentAt.size;
    const rss = await Promise.all(procs.map((p) => rssMB(p.child.pid!)));

    // Provider records are announced in the background, after the burst (they wait for a
    // quiet moment): how long until every node's queue is empty, and how many went out.
    const providerRow: string[] = ['provider records (DHT), after the last publish', 'net.providers off', '-', '-', '-'];
    const tDrain = performance.now();
    const providers = async () => Promise.all(procs.map(async (p) => ((await (await fetch(`${p.url}/v1/status`)).json()) as { network: { providers: { pending: number; announced: number; waiting: number } | null } | null }).network?.providers ?? null));
    let last = await providers();
    if (last.every((x) => x !== null)) {
      const left = (xs: typeof last) => xs.reduce((a, x) => a + (x?.pending ?? 0) + (x?.waiting ?? 0), 0);
      log(`waiting for the provider queues to drain (${fmt(left(last))} digests queued)…`);
      const drainEnd = Date.now() + (QUICK ? 120_000 : 600_000);
      while (left(last) > 0 && Date.now() < drainEnd) {
        await sleep(1000);
        last = await providers();
      }
      const announced = last.reduce((a, x) => a + (x?.announced ?? 0), 0);
      providerRow[1] = left(last) === 0 ? `all queues empty ${fmt((performance.now() - tDrain) / 1000, 1)} s after; ${fmt(announced)} announcements (${fmt(announced / PUBLISH, 1)} per digest)` : `${fmt(left(last))} still queued after ${fmt((performance.now() - tDrain) / 1000)} s; ${fmt(announced)} announced`;
      providerRow[2] = `publishing took ${fmt(pubSeconds, 1)} s`;
    }
    const rows = [
      [`propagation, ${NODES} processes, ${fmt(PUBLISH)} publishes`, `p50 ${fmt(pct(lat, 0.5), 1)} ms, p99 ${fmt(pct(lat, 0.99), 1)} ms, max ${fmt(lat.at(-1) ?? NaN, 1)} ms; delivered to all: ${fmt(share * 100, 1)}%`, `POST accepted locally: p50 ${fmt(pct(accepted, 0.5), 1)} ms, p99 ${fmt(pct(accepted, 0.99), 1)} ms`, '100%, p99 < 1 s', mark(share === 1 && pct(lat, 0.99) < 1000)],
      ['CPU, all nodes together', `idle: ${fmt(idleShare, 2)} cores; publishing: ${fmt(busyShare, 2)} cores (${fmt(PUBLISH / pubSeconds, 1)} publishes/s)`, 'machine: 2 cores', '-', '-'],
      providerRow,
      ['RSS per node process', `max ${fmt(Math.max(...rss))} MB, mean ${fmt(rss.reduce((a, b) => a + b, 0) / rss.length)} MB`, '-', '< 250 MB', mark(Math.max(...rss) < 250)],
    ];
    console.log(`\nbench:devnet — ${NODES} chorus processes (the built CLI), loopback TCP, ${NET ? `network config ${JSON.stringify(NET)}` : 'default network config'}${QUICK ? ' (quick)' : ''}`);
    console.log(table(FIGURE_HEAD, rows));
    streams.abort();
    await Promise.allSettled(following);
  } finally {
    streams.abort();
    await Promise.all(procs.map((p) => stopChild(p.child)));
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
