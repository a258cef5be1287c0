/**
 * Figure: SSE replay. 64 event streams ask GET /v1/events?cursor=0 (a full replay) of a
 * daemon (the built CLI, its own process) whose store holds 20,000 (quick) or 100,000
 * attestations: first without the API token, then with it, for 10 s (quick) or 30 s each.
 * Measured: bytes the streams received, the daemon's CPU (utime + stime from /proc), and
 * /healthz p50/p99 during, beside the idle /healthz measured in the same run. Goal (issue
 * 20): /healthz p99 at most twice idle, bytes bounded by the replay budget. Before the
 * budget, 64 streams got 888 MB in 30 s at 108 % CPU, /healthz p50 2 → 65 ms.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_CONFIG } from '../../node/home/config.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { Child, ROLE, healthProbe, log, serve, type Row } from './attack-kit.js';
import { QUICK, cpuSeconds, fmt, met, metric, pct, sleep, startBenchDaemon, stopChild } from './kit.js';

const STREAMS = 64;
const STORED = QUICK ? 20_000 : 100_000;
const SECONDS = QUICK ? 10 : 30;
const IDLE_SECONDS = QUICK ? 5 : 10;
const ISSUERS = 200;
const GOAL = 'healthz p99 ≤ 2× idle, bytes bounded';
/** What the replay budget lets through in `s` seconds: the shared rate, its one-second bucket, a page per stream of slack. */
const bytesBound = (s: number): number => (s + 1) * DEFAULT_CONFIG.api.eventReplayTotalBytesPerSecond + STREAMS * 64 * 1024;

async function fill(dir: string): Promise<void> {
  const home = resolveHome({}, dir);
  await initHome(home);
  const node = await LocalNode.open(home, { env: {} });
  try {
    const issuers = Array.from({ length: ISSUERS }, () => makeIssuer());
    for (let made = 0; made < STORED;) {
      const chunk: string[] = [];
      for (; chunk.length < 5_000 && made < STORED; made++) {
        chunk.push(makeEnvelopeLine(issuers[made % ISSUERS]!, { subjects: [randomDigest()], fields: exampleFields('audit', { metrics: { run: made } }) }));
      }
      await node.ingestor.ingestMany(chunk, () => {});
    }
    await node.ingestor.idle();
    log(`figure SSE: stored ${fmt(node.store.size)} attestations`);
  } finally {
    await node.close();
  }
}

/**
 * 64 streams replaying from cursor 0 for SECONDS; the bytes they received. Run in a process
 * of its own (role sse-readers), so that reading them does not delay the /healthz probe.
 */
async function replay({ url, headers }: { url: string; headers: Record<string, string> }): Promise<{ bytes: number; refused: number }> {
  const ac = new AbortController();
  let bytes = 0;
  let refused = 0;
  const streams = Array.from({ length: STREAMS }, async () => {
    try {
      const res = await fetch(`${url}/v1/events?cursor=0`, { headers, signal: ac.signal });
      if (!res.ok || !res.body) {
        refused++;
        await res.arrayBuffer();
        return;
      }
      for await (const chunk of res.body) bytes += (chunk as Uint8Array).byteLength;
    } catch {
      // aborted at the end of the phase
    }
  });
  await sleep(SECONDS * 1000);
  ac.abort();
  await Promise.all(streams);
  return { bytes, refused };
}

export async function figureSse(root: string, rows: Row[]): Promise<void> {
  log(`figure SSE: ${STREAMS} streams replaying ${fmt(STORED)} attestations for ${SECONDS} s, without and with the token…`);
  const dir = await mkdtemp(join(root, 'sse-'));
  try {
    await fill(dir);
    const token = (await readFile(resolveHome({}, dir).token, 'utf8')).trim();
    const { child, url } = await startBenchDaemon(dir);
    const readers = Child.spawn('sse-readers', fileURLToPath(import.meta.url));
    try {
      const pid = child.pid!;
      const idleProbe = healthProbe(url);
      await sleep(IDLE_SECONDS * 1000);
      const idle = await idleProbe.stop();
      const idleP50 = pct(idle.lat, 0.5);
      const idleP99 = pct(idle.lat, 0.99);
      const baseline = `idle healthz p50 ${fmt(idleP50, 1)} / p99 ${fmt(idleP99, 1)} ms; unbudgeted: 888 MB in 30 s, 108 % CPU, p50 65 ms`;
      for (const [label, headers] of [['without token', {}], ['with token', { authorization: `Bearer ${token}` }]] as const) {
        log(`figure SSE: ${label}…`);
        const waits = await metric(url, 'chorus_events_replay_waits_total');
        const truncated = await metric(url, 'chorus_events_truncated_total');
        const cpu0 = await cpuSeconds(pid);
        const probe = healthProbe(url);
        const { bytes, refused } = await readers.call<{ bytes: number; refused: number }>('replay', { url, headers });
        const during = await probe.stop();
        const cpu = (await cpuSeconds(pid)) - cpu0;
        const p50 = pct(during.lat, 0.5);
        const p99 = pct(during.lat, 0.99);
        const waited = (await metric(url, 'chorus_events_replay_waits_total')) - waits;
        const cut = (await metric(url, 'chorus_events_truncated_total')) - truncated;
        const measured = `${fmt(bytes / 1e6, 1)} MB in ${SECONDS} s (${fmt(bytes / 1e6 / SECONDS, 1)} MB/s), CPU ${fmt((cpu / SECONDS) * 100)} %, `
          + `healthz p50 ${fmt(p50, 1)} / p99 ${fmt(p99, 1)} ms (${during.failed} failed), ${fmt(waited)} budget waits, ${fmt(cut)} truncated${refused ? `, ${refused} refused` : ''}`;
        const ok = p99 <= 2 * idleP99 && bytes <= bytesBound(SECONDS) && during.failed === 0;
        rows.push([`SSE replay ×${STREAMS}, cursor=0, ${label}`, measured, baseline, GOAL, met(ok)]);
        // Let the aborted streams close before the next phase opens 64 more.
        for (let i = 0; i < 100 && (await metric(url, 'chorus_event_streams')) > 0; i++) await sleep(100);
      }
    } finally {
      await readers.stop();
      await stopChild(child);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (ROLE === 'sse-readers') {
  serve({ replay, exit: async () => {
    setTimeout(() => process.exit(0), 50);
    return null;
  } });
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Run alone: node dist/test/bench/attack-sse.js [--quick]
  const { tmpdir } = await import('node:os');
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-sse-'));
  const rows: Row[] = [];
  try {
    await figureSse(root, rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  for (const r of rows) process.stdout.write(`${r.join(' | ')}\n`);
}
