/**
 * Attack figure (issue 20): a trusted issuer churns its endorsements. A trust root endorses
 * X, so X counts; X and the keys it endorses have attestations on a few digests. X then
 * endorses, retracts and endorses with a 5 s expiry, in turn, at 11 changes a second over
 * HTTP (pre-signed envelopes, the API token) while GET reputation is asked 50 times a second.
 * Measured: GET p50/p99, victim RSS and CPU; baseline: the same GETs with X quiet; goal:
 * p99 at most twice idle. A reference run with the churn budget at its maximum (SPEC §14.8,
 * `limits.trustChangesPerIssuerPerMinute`, `limits.trustRecomputesPerSecond`) shows what the
 * budget holds back.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { pae, PAYLOAD_TYPE } from '../../src/dsse/pae.js';
import { decodeBase64 } from '../../src/encoding/bytes.js';
import type { Envelope } from '../../src/statement/statement.js';
import { log, rssSampler, type Row } from './attack-kit.js';
import { QUICK, cpuSeconds, fmt, met, metricSum, pct, sleep, sorted, startBenchDaemon, stopChild } from './kit.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';

const CHURN_SECONDS = QUICK ? 10 : 30;
const IDLE_SECONDS = CHURN_SECONDS;
const CHANGES_PER_SECOND = 11;
const GETS_PER_SECOND = 50;
const DIGESTS = 8;
/** Keys X endorses in turn; each has an attestation on every digest, so who counts changes. */
const TARGETS = 20;
const STRANGERS_PER_DIGEST = 60;

interface Load {
  lat: number[];
  failed: number;
  /** GET answers that named an issuer whose changes wait. */
  deferredSeen: number;
  rssMax: number;
  cpuCores: number;
  posted: number;
  postFailed: number;
}

/** The attestation id: sha256 of PAE(payloadType, payload). */
function idOf(line: string): string {
  const env = JSON.parse(line) as Envelope;
  return createHash('sha256').update(pae(PAYLOAD_TYPE, decodeBase64(env.payload)!)).digest('hex');
}

/**
 * X's changes, signed before the run, one per 1/11 s from `start`: endorse a key, retract that
 * endorsement, endorse the next key for 5 s — and again, over the keys in turn.
 */
function churnLines(x: TestIssuer, targets: readonly TestIssuer[], start: number, n: number): string[] {
  const out: string[] = [];
  let last: { id: string; key: TestIssuer } | undefined;
  for (let i = 0; i < n; i++) {
    const key = targets[Math.floor(i / 3) % targets.length]!;
    const at = start + (i * 1000) / CHANGES_PER_SECOND;
    const issuedAt = new Date(at - 30_000);
    const fields = { endorsed: key.did, scope: ['*'], weight: 1 };
    const step = i % 3;
    if (step === 1 && last) {
      out.push(makeEnvelopeLine(x, { kind: 'retraction', subjects: [endorsementSubject(last.key.did)], fields: { target: last.id, reason: 'churn' }, issuedAt }));
      continue;
    }
    const line = makeEnvelopeLine(x, { kind: 'endorsement', subjects: [endorsementSubject(key.did)], fields, issuedAt, ...(step === 2 ? { expiresAt: new Date(at + 5_000) } : {}) });
    last = { id: idOf(line), key };
    out.push(line);
  }
  return out;
}

/** GETs reputation at a steady rate (each timed on its own) and, if given, posts X's changes at theirs. */
async function load(url: string, token: string, pid: number, digests: readonly string[], seconds: number, changes: readonly string[]): Promise<Load> {
  const lat: number[] = [];
  let failed = 0;
  let deferredSeen = 0;
  let posted = 0;
  let postFailed = 0;
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const rss = rssSampler(pid);
  const cpu0 = await cpuSeconds(pid);
  const t0 = performance.now();
  let g = 0;
  const gets = setInterval(() => {
    const digest = digests[g++ % digests.length]!;
    const s = performance.now();
    track(fetch(`${url}/v1/models/sha256:${digest}/reputation?lookup=false`, { signal: AbortSignal.timeout(60_000) })
      .then(async (res) => {
        const body = await res.text();
        if (res.ok) lat.push(performance.now() - s);
        else failed++;
        if (body.includes('"deferredEndorsements"')) deferredSeen++;
      })
      .catch(() => void failed++));
  }, 1000 / GETS_PER_SECOND);
  let c = 0;
  const posts = changes.length === 0 ? undefined : setInterval(() => {
    const line = changes[c++];
    if (line === undefined) return;
    track(fetch(`${url}/v1/attestations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: line })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status === 201 || res.status === 200) posted++;
        else postFailed++;
      })
      .catch(() => void postFailed++));
  }, 1000 / CHANGES_PER_SECOND);
  await sleep(seconds * 1000);
  clearInterval(gets);
  clearInterval(posts);
  await Promise.all([...pending]);
  const wall = performance.now() - t0;
  const cpuCores = ((await cpuSeconds(pid)) - cpu0) * 1000 / wall;
  return { lat: sorted(lat), failed, deferredSeen, rssMax: await rss.stop(), cpuCores, posted, postFailed };
}

export async function figureChurn(root: string, rows: Row[]): Promise<void> {
  log(`churn: a trusted issuer changing its endorsements ${CHANGES_PER_SECOND}/s over HTTP for ${CHURN_SECONDS} s…`);
  const home = resolveHome({}, join(root, 'churn'));
  await initHome(home);
  const trustRoot = makeIssuer();
  const x = makeIssuer();
  const targets = Array.from({ length: TARGETS }, () => makeIssuer());
  await replaceRoots(home.trust, [{ issuer: trustRoot.did }], new Date());
  const digests = Array.from({ length: DIGESTS }, () => randomDigest());
  {
    // The store, built before the daemon starts.
    const node = await LocalNode.open(home, { env: {} });
    const at = (): Date => new Date(Date.now() - 120_000 - Math.random() * 86_400_000);
    const audit = (verdict: string): Record<string, unknown> => exampleFields('audit', { verdict });
    const lines = [makeEnvelopeLine(trustRoot, { kind: 'endorsement', subjects: [endorsementSubject(x.did)], fields: { endorsed: x.did, scope: ['*'], weight: 1 }, issuedAt: new Date(Date.now() - 3_600_000) })];
    for (const d of digests) {
      lines.push(makeEnvelopeLine(trustRoot, { subjects: [d], fields: audit('pass'), issuedAt: at() }));
      lines.push(makeEnvelopeLine(x, { subjects: [d], fields: audit('pass'), issuedAt: at() }));
      for (const t of targets) lines.push(makeEnvelopeLine(t, { subjects: [d], fields: audit(Math.random() < 0.2 ? 'fail' : 'pass'), issuedAt: at() }));
      for (let s = 0; s < STRANGERS_PER_DIGEST; s++) lines.push(makeEnvelopeLine(makeIssuer(), { subjects: [d], fields: audit('fail'), issuedAt: at() }));
    }
    const ds = await node.ingestor.ingestMany(lines);
    log(`churn: stored ${ds.filter((d) => d.outcome === 'accept').length} of ${lines.length}`);
    await node.close();
  }
  const token = (await readFile(home.token, 'utf8')).trim();

  const run = async (budget: boolean): Promise<{ idle: Load | undefined; churn: Load; metrics: string }> => {
    await writeFile(home.config, JSON.stringify(budget ? {} : { limits: { trustChangesPerIssuerPerMinute: 10_000, trustRecomputesPerSecond: 1000 } }));
    const { child, url } = await startBenchDaemon(home.root);
    try {
      const pid = child.pid!;
      // Warm: every digest viewed once.
      for (const d of digests) await (await fetch(`${url}/v1/models/sha256:${d}/reputation?lookup=false`)).arrayBuffer();
      const idle = budget ? await load(url, token, pid, digests, IDLE_SECONDS, []) : undefined;
      if (idle) log(`churn: idle p50 ${fmt(pct(idle.lat, 0.5), 1)} ms, p99 ${fmt(pct(idle.lat, 0.99), 1)} ms, RSS ${fmt(idle.rssMax)} MB`);
      const changes = churnLines(x, targets, Date.now() + 200, CHURN_SECONDS * CHANGES_PER_SECOND);
      const churn = await load(url, token, pid, digests, CHURN_SECONDS, changes);
      log(`churn (${budget ? 'budget' : 'budget off'}): p50 ${fmt(pct(churn.lat, 0.5), 1)} ms, p99 ${fmt(pct(churn.lat, 0.99), 1)} ms, RSS max ${fmt(churn.rssMax)} MB, ${fmt(churn.cpuCores, 2)} cores, posted ${churn.posted} (${churn.postFailed} failed)`);
      const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      return { idle, churn, metrics };
    } finally {
      await stopChild(child);
    }
  };

  const on = await run(true);
  const off = await run(false);
  const idle = on.idle!;
  const p99Idle = pct(idle.lat, 0.99);
  const line = (l: Load): string => `GET p50 ${fmt(pct(l.lat, 0.5), 1)} ms, p99 ${fmt(pct(l.lat, 0.99), 1)} ms (${fmt(l.lat.length)} GETs${l.failed ? `, ${l.failed} failed` : ''}${l.deferredSeen ? `, ${fmt(l.deferredSeen)} naming deferred changes` : ''})`;
  const cost = (l: Load): string => `RSS max ${fmt(l.rssMax)} MB, ${fmt(l.cpuCores, 2)} cores`;
  const recomputes = (m: string): string => `${fmt(metricSum(m, 'chorus_trust_recomputations_total'))} recomputations, ${fmt(metricSum(m, 'chorus_trust_deferred_changes'))} changes deferred at the end`;
  rows.push([
    `churn: a trusted issuer's endorsements, ${CHANGES_PER_SECOND}/s over HTTP, ${CHURN_SECONDS} s`,
    `${line(on.churn)}; ${cost(on.churn)}; ${fmt(on.churn.posted)} changes stored${on.churn.postFailed ? ` (${on.churn.postFailed} refused)` : ''}, ${recomputes(on.metrics)}`,
    `idle: ${line(idle)}; ${cost(idle)}`,
    'p99 <= 2x idle',
    met(pct(on.churn.lat, 0.99) <= 2 * p99Idle),
  ]);
  rows.push([
    '  the same, churn budget off (reference)',
    `${line(off.churn)}; ${cost(off.churn)}; ${recomputes(off.metrics)}`,
    `idle: p99 ${fmt(p99Idle, 1)} ms, RSS ${fmt(idle.rssMax)} MB`,
    '-',
    '',
  ]);
}
