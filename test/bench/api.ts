/**
 * API benchmark: `npm run bench:api` (full) or `npm run bench:api -- --quick`.
 * A benchmark, never a test: each figure beside a reference measured in the same run.
 *
 *   1. GET /v1/models/{digest}/reputation under load from this process (autocannon) against
 *      the daemon in a child process, with 100,000 attestations over 10,000 digests stored
 *      (quick: 20,000 over 5,000): a 1,000-digest working set asked again and again (kept
 *      views), and every request a digest not asked before (each view computed);
 *      reference: Fastify serving a constant JSON body of the same size (HTTP alone).
 *   2. POST /v1/query with 1,000 digests: the first call over digests not asked before
 *      (cold), then the same call again and again (warm).
 *   3. POST /v1/attestations (pre-signed) throughput vs the bulk import rate of this run.
 *   4. Daemon RSS idle with that store; start-up to serving.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { makeEnvelopeLine, makeIssuer, exampleFields, type TestIssuer } from '../support/fixtures.js';
import { FIGURE_HEAD, QUICK, exited, fmt, load, logger, mark, pct, rssMB, sorted, startBenchDaemon, startConstantServer, stopChild, table } from './kit.js';

const TOTAL = QUICK ? 20_000 : 100_000;
const DIGESTS = QUICK ? 5_000 : 10_000;
/** Digests [0, 1,000) are the working set; the cold GETs take the next ones up to the last 1,000, which the batch query asks. */
const HOT = 1_000;
const QUERIED = DIGESTS - 1_000;
const ISSUERS = 1_000;
const DURATION = QUICK ? 5 : 15;

const log = logger('bench:api');

function digestOf(i: number): string {
  return i.toString(16).padStart(64, '0');
}


async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-api-'));
  const children: ChildProcess[] = [];
  try {
    const home = resolveHome({}, join(dir, 'home'));
    await initHome(home);

    // 1. Data: TOTAL attestations from ISSUERS issuers over DIGESTS digests.
    log(`signing ${fmt(TOTAL)} attestations…`);
    const issuers: TestIssuer[] = Array.from({ length: ISSUERS }, () => makeIssuer());
    const lines: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      lines.push(makeEnvelopeLine(issuers[i % ISSUERS]!, { subjects: [digestOf(i % DIGESTS)], fields: exampleFields('audit', { verdict: i % 7 === 0 ? 'warn' : 'pass', metrics: { run: i } }) }));
    }
    await replaceRoots(home.trust, issuers.slice(0, ISSUERS / 2).map((i) => ({ issuer: i.did })), new Date());

    // Reference for publish: the bulk import rate of this run, in process.
    log('bulk import (reference for publish throughput)…');
    const node = await LocalNode.open(home, { env: {} });
    const t0 = performance.now();
    const ds = await node.ingestor.ingestMany(lines.map((l) => Buffer.from(l)));
    const importRate = TOTAL / ((performance.now() - t0) / 1000);
    const accepted = ds.filter((d) => d.outcome === 'accept').length;
    await node.close();
    log(`imported ${fmt(accepted)} at ${fmt(importRate)}/s`);

    // 2. Start-up and idle RSS.
    const daemon = await startBenchDaemon(home.root);
    children.push(daemon.child);
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = await rssMB(daemon.child.pid as number);

    // 3. Reputation under load vs the constant-body reference.
    const sample = await (await fetch(`${daemon.url}/v1/models/${digestOf(1)}/reputation`)).text();
    const { child: constant, url: constantUrl } = await startConstantServer(sample.length);
    children.push(constant);
    // The working set a model loader or scanner asks about again and again: 1,000 digests.
    const hot = Array.from({ length: HOT }, (_, i) => ({ method: 'GET' as const, path: `/v1/models/sha256:${digestOf((i * 7919) % HOT)}/reputation` }));
    // Every request a digest not asked before: each view computed from the store (a scanner's first pass).
    const fresh = Array.from({ length: QUERIED - HOT }, (_, i) => ({ method: 'GET' as const, path: `/v1/models/${digestOf(HOT + i)}/reputation` }));
    log(`load: reference (constant ${fmt(sample.length)}-byte JSON), ${DURATION}s…`);
    await load({ url: constantUrl, connections: 10, duration: 2, requests: hot });
    const ref = await load({ url: constantUrl, connections: 10, duration: DURATION, requests: hot });
    log(`load: reputation view over the 1,000-digest working set, ${DURATION}s…`);
    for (const r of hot) await (await fetch(daemon.url + r.path)).arrayBuffer(); // first asks
    const rep = await load({ url: daemon.url, connections: 10, duration: DURATION, requests: hot });
    log(`load: every request a digest not asked before (${fmt(fresh.length)})…`);
    const cold = await load({ url: daemon.url, connections: 10, amount: fresh.length, requests: fresh });
    const coldRate = cold.requests.total / cold.duration;
    // Its reference: the constant server given the same ${fresh.length} paths the same way (autocannon
    // with a long request list and a count is slower than with a duration: the load generator's own share).
    const coldRef = await load({ url: constantUrl, connections: 10, amount: fresh.length, requests: fresh });
    const coldRefRate = coldRef.requests.total / coldRef.duration;
    constant.kill('SIGTERM');

    // 4. Batch query of 1,000 digests: first over digests not asked before, then again and again.
    const batch = JSON.stringify({ digests: Array.from({ length: 1000 }, (_, i) => digestOf(QUERIED + i)) });
    const qt: number[] = [];
    let qFirst = 0;
    let qBytes = 0;
    for (let i = 0; i < 40; i++) {
      const s = performance.now();
      const r = await fetch(`${daemon.url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch });
      qBytes = (await r.arrayBuffer()).byteLength;
      if (i === 0) qFirst = performance.now() - s;
      if (i >= 5) qt.push(performance.now() - s);
    }
    const q = sorted(qt);
    const q50 = pct(q, 0.5);
    const q99 = pct(q, 0.99);

    // 5. Publish throughput: distinct pre-signed envelopes, concurrent clients.
    const PUBLISH = QUICK ? 5_000 : 30_000;
    log(`signing ${fmt(PUBLISH)} envelopes to publish…`);
    const signed = Array.from({ length: PUBLISH }, (_, i) => makeEnvelopeLine(issuers[i % ISSUERS]!, { subjects: [digestOf(DIGESTS + i)], fields: exampleFields('audit', { metrics: { publish: i } }) }));
    const token = (await readFile(home.token, 'utf8')).trim();
    let next = 0;
    log('load: publish…');
    const pub = await load({
      url: daemon.url,
      connections: 32,
      amount: PUBLISH,
      requests: [{
        method: 'POST',
        path: '/v1/attestations',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: signed[next++ % PUBLISH] as string }),
      }],
    });
    const publishRate = pub.requests.total / pub.duration;
    log(`publish: ${pub.requests.total} requests in ${pub.duration.toFixed(2)} s, latency p50 ${pub.latency.p50} ms p99 ${pub.latency.p99} ms`);
    const created = pub['2xx'];

    await stopChild(daemon.child);

    // Goals: issue 24 (answers at memory speed).
    const share = (a: number, b: number): string => `${fmt((a / b) * 100)}%`;
    const rows: [string, string, string, string, string][] = [
      ['reputation GET req/s, 1k-digest working set', fmt(rep.requests.average), `constant JSON: ${fmt(ref.requests.average)}`, `${share(rep.requests.average, ref.requests.average)} (goal >= 80%)`, mark(rep.requests.average >= 0.8 * ref.requests.average)],
      ['  latency p50 / p99', `${fmt(rep.latency.p50, 2)} / ${fmt(rep.latency.p99, 2)} ms`, `constant: ${fmt(ref.latency.p50, 2)} / ${fmt(ref.latency.p99, 2)} ms`, 'p99 < 2 ms', mark(rep.latency.p99 < 2)],
      [`reputation GET req/s, each a new digest (${fmt(fresh.length)})`, fmt(coldRate), `constant JSON, same requests: ${fmt(coldRefRate)}`, `${share(coldRate, coldRefRate)} (goal >= 50%)`, mark(coldRate >= 0.5 * coldRefRate)],
      ['  latency p50 / p99', `${fmt(cold.latency.p50, 2)} / ${fmt(cold.latency.p99, 2)} ms`, `constant: ${fmt(coldRef.latency.p50, 2)} / ${fmt(coldRef.latency.p99, 2)} ms`, 'p99 < 5 ms', mark(cold.latency.p99 < 5)],
      ['POST /v1/query, 1,000 digests, warm p50 / p99', `${fmt(q50, 1)} / ${fmt(q99, 1)} ms`, `${fmt(qBytes / 1e6, 1)} MB answered`, 'p50 < 20 ms', mark(q50 < 20)],
      ['POST /v1/query, 1,000 digests not asked before', `${fmt(qFirst, 1)} ms`, '-', '< 100 ms', mark(qFirst < 100)],
      ['publish (pre-signed) /s, 32 conns', fmt(publishRate), `bulk import: ${fmt(importRate)}/s`, `${share(publishRate, importRate)} (goal >= 60%)`, mark(publishRate >= 0.6 * importRate)],
      ['  publishes answered 201', fmt(created), `of ${fmt(PUBLISH)}`, 'all', mark(created === PUBLISH)],
      ['daemon RSS idle', `${fmt(idleRss)} MB`, `${fmt(TOTAL)} attestations stored`, '< 150 MB', mark(idleRss < 150)],
      ['start-up to serving', `${fmt(daemon.startupMs)} ms`, 'spawn -> /healthz 200', '< 2,000 ms', mark(daemon.startupMs < 2000)],
    ];
    console.log(`\nbench:api — ${fmt(TOTAL)} attestations over ${fmt(DIGESTS)} digests${QUICK ? ' (quick)' : ''}; load from this process, daemon in a child, loopback`);
    console.log(table(FIGURE_HEAD, rows));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
// The LAN server's row (issue 22: TLS adds at most 10 % to GET …/reputation's p50), beside plain
// HTTP in the same run: the TLS bench, as a child, with the same flags.
{
  const tls = spawn(process.execPath, [fileURLToPath(new URL('./tls.js', import.meta.url)), ...process.argv.slice(2)], { stdio: 'inherit' });
  const code = await exited(tls);
  if (code !== 0) process.exitCode = code ?? 1;
}
