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
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';

const QUICK = process.argv.includes('--quick');
const NODES = process.argv.includes('--nodes') ? Number(process.argv[process.argv.indexOf('--nodes') + 1]) : QUICK ? 8 : 20;
const PUBLISH = process.argv.includes('--publish') ? Number(process.argv[process.argv.indexOf('--publish') + 1]) : QUICK ? 200 : 1_000;
/** `--cpu-prof DIR`: node n1 writes a V8 CPU profile into DIR when it stops. */
const PROF = process.argv.includes('--cpu-prof') ? resolve(process.argv[process.argv.indexOf('--cpu-prof') + 1]!) : undefined;
/** `--net JSON`: network options written into every node's config.json (e.g. '{"autonat":false}'). */
const NET = process.argv.includes('--net') ? (JSON.parse(process.argv[process.argv.indexOf('--net') + 1]!) as Record<string, unknown>) : undefined;
const CLI = join(resolve(fileURLToPath(new URL('../../..', import.meta.url))), 'dist', 'node', 'cli', 'main.js');
const log = (m: string): void => void process.stderr.write(`[bench:devnet] ${m}\n`);
const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mark = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? NaN;

interface Proc { child: ChildProcess; home: string; url: string; token: string; out: string }

function env(home: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, CHORUS_HOME: home, NODE_COMPILE_CACHE: join(tmpdir(), 'chorus-e2e-compile-cache') };
  delete e['NODE_OPTIONS'];
  return e;
}

async function run(args: string[], home: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { env: env(home), stdio: 'ignore' });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`chorus ${args.join(' ')} exited ${code}`);
}

async function startNode(root: string, name: string, bootstrap: string[]): Promise<Proc> {
  const home = join(root, name);
  await run(['init'], home);
  if (NET) await writeFile(join(home, 'config.json'), JSON.stringify({ net: NET }, null, 2));
  const args = ['start', '--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-upnp', '--log-level', 'warn', ...(bootstrap.length ? ['--bootstrap', ...bootstrap] : [])];
  const prof = PROF && name === 'n1' ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [];
  // BENCH_N1_DEBUG=pattern: node n1 runs with DEBUG=pattern, its stderr into chorus-bench-n1.debug.log in the temp dir.
  const debug = name === 'n1' && process.env['BENCH_N1_DEBUG'] ? { DEBUG: process.env['BENCH_N1_DEBUG'] } : {};
  const child = spawn(process.execPath, [...prof, CLI, ...args], { env: { ...env(home), ...debug }, stdio: ['ignore', 'pipe', 'pipe'] });
  if ('DEBUG' in debug) child.stderr?.pipe(createWriteStream(join(tmpdir(), 'chorus-bench-n1.debug.log')));
  const p: Proc = { child, home, url: '', token: '', out: '' };
  child.stdout?.on('data', (d: Buffer) => (p.out = (p.out + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (p.out = (p.out + d.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid) {
        p.url = info.url;
        p.token = (await readFile(join(home, 'api-token'), 'utf8')).trim();
        return p;
      }
    } catch {
      // not written yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${p.out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Follows a node's event stream, calling `seen(id)` for each accepted attestation. */
async function follow(p: Proc, signal: AbortSignal, seen: (id: string) => void): Promise<void> {
  const res = await fetch(`${p.url}/v1/events`, { signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(ev)?.[1];
        if (data) seen((JSON.parse(data) as { id: string }).id);
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
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
    while (!(await meshed())) await new Promise((r) => setTimeout(r, 200));
    log(`all connected in ${fmt((performance.now() - t0) / 1000, 1)} s; 10 s to settle, then 10 s measuring idle CPU…`);
    await new Promise((r) => setTimeout(r, 10_000)); // let the gossip mesh and the DHT's first queries settle
    const idle0 = await cpuAll(procs);
    await new Promise((r) => setTimeout(r, 10_000));
    const idle1 = await cpuAll(procs);
    const idleShare = idle1.reduce((a, x, i) => a + x - idle0[i]!, 0) / 10; // cores busy, all nodes together

    const arrived = new Map<string, number[]>();
    const following = procs.map((p) => follow(p, streams.signal, (id) => (arrived.get(id) ?? arrived.set(id, []).get(id)!).push(performance.now())));
    await new Promise((r) => setTimeout(r, 500));

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
      await new Promise((r2) => setTimeout(r2, 5));
    }
    const end = Date.now() + 30_000;
    while ([...sentAt.keys()].some((id) => (arrived.get(id)?.length ?? 0) < NODES) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));

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
    const rss = await Promise.all(procs.map((p) => rssMb(p.child.pid!)));

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
        await new Promise((r) => setTimeout(r, 1000));
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
    const w = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => r[c]!.length), 6));
    console.log(`\nbench:devnet — ${NODES} chorus processes (the built CLI), loopback TCP, ${NET ? `network config ${JSON.stringify(NET)}` : 'default network config'}${QUICK ? ' (quick)' : ''}`);
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join(' | '));
    streams.abort();
    await Promise.allSettled(following);
  } finally {
    streams.abort();
    await Promise.all(procs.map(async (p) => {
      if (p.child.exitCode !== null) return;
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    }));
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
