/**
 * Reputation benchmark (issue 12, "Figures"): `npm run bench:reputation` (full, ~10 min) or
 * `npm run bench:reputation -- --quick` (~1-2 min). A benchmark, never a test: each figure
 * is printed beside a reference measured in the same run, and nothing passes or fails.
 *
 *   1a. TrustGraph.compute over 10,000 issuers and ~100,000 endorsements (pure, in process;
 *       the same size in --quick): median of a few runs, at the default parameters and at
 *       maxDepth 4 (every endorsement in reach). Reference: one Map-keyed pass over the
 *       same endorsements, and sorting them.
 *   1b. One new endorsement updates the graph: a LocalNode over a LevelDB temp store holding
 *       those endorsements (--quick: 1,000 issuers, 10,000 endorsements), signed and
 *       imported; after one more endorsement by a reached issuer lands, the time of
 *       `node.trust()` (cached gather + compute). Reference: the cold computation, every
 *       endorser read from the store.
 *   2.  GET /v1/models/{digest}/reputation?lookup=false from a daemon in a child process
 *       holding 100,000 attestations over 20,000 digests from 300 issuers of that graph, 80%
 *       of them counting under its policy of 50 roots (--quick: 20,000 over 4,000): every request a different
 *       digest, round-robin through all of them (one counter shared by the connections, so
 *       the view cache does not help). Reference: Fastify serving a constant JSON body of
 *       the same size (test/bench/constant-server.ts) in another child. Then POST
 *       /v1/query with 1,000 distinct digests, the view cache emptied before each call.
 *
 * `--profile <dir>` writes a CPU profile of the daemon child there (node --cpu-prof).
 * Internally `--serve <home>` runs the daemon (startDaemon) in the child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { SCOPES, TrustPolicyFile, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput } from '../../src/reputation/trust-graph.js';
import { startDaemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { loadPolicy, writePolicy } from '../../node/home/trust-list.js';
import { EndorsementSource } from '../../node/local/endorsements.js';
import { LocalNode } from '../../node/local/local-node.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { prng } from '../support/prng.js';
import { FIGURE_HEAD, QUICK, arg, firstLine, fmt, load, logger, mark, quantile, rssMB, startConstantServer, stopChild, table } from './kit.js';

const PROFILE = arg('--profile');
/** The pure computation runs at full size in both modes (it costs seconds). */
const PURE_ISSUERS = 10_000;
const PER_ENDORSER = 10;
const NODE_ISSUERS = QUICK ? 1_000 : 10_000;
const GRAPH_ROOTS = 20;
const ATTESTATIONS = QUICK ? 20_000 : 100_000;
const DIGESTS = QUICK ? 4_000 : 20_000;
const ATT_ISSUERS = 300;
const VIEW_ROOTS = 50;
const PURE_RUNS = QUICK ? 3 : 7;
const UPDATES = QUICK ? 15 : 40;
const DURATION = QUICK ? 5 : 15;
const CONNECTIONS = 10;
const BATCHES = QUICK ? 4 : 20;
const CHUNK = 10_000;
const DAY = 86_400_000;
const SELF = fileURLToPath(import.meta.url);

const log = logger('bench:reputation');
/** The lower median (nearest rank), as this benchmark has always reported it. */
const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** One endorsement of the synthetic graph, by issuer index. */
interface Edge {
  readonly by: number;
  readonly to: number;
  readonly scope: string[];
  readonly weight: number;
  /** How long before "now" it was issued. */
  readonly ageMs: number;
  /** Expires a year from now (most endorsements do not expire). */
  readonly expires: boolean;
}

/**
 * The graph's shape: every issuer endorses PER_ENDORSER distinct others, 30% of them among
 * the 5% most popular issuers and the rest uniformly (so cycles and back edges abound);
 * weights 0.1-1, scope `*` for 40% and one or two kinds otherwise, 5% expiring in a year;
 * 2% of the pairs also carry an older endorsement the newer one supersedes.
 */
function makeGraph(n: number, rnd: () => number): Edge[] {
  const popular = Math.max(1, Math.floor(n * 0.05));
  const edges: Edge[] = [];
  const scopeOf = (): string[] => {
    if (rnd() < 0.4) return ['*'];
    const a = SCOPES[Math.floor(rnd() * SCOPES.length)] as string;
    const b = SCOPES[Math.floor(rnd() * SCOPES.length)] as string;
    return rnd() < 0.5 || a === b ? [a] : [a, b];
  };
  const weight = (): number => Math.round((0.1 + 0.9 * rnd()) * 100) / 100;
  for (let by = 0; by < n; by++) {
    const targets = new Set<number>();
    while (targets.size < Math.min(PER_ENDORSER, n - 1)) {
      const to = rnd() < 0.3 ? Math.floor(rnd() * popular) : Math.floor(rnd() * n);
      if (to !== by) targets.add(to);
    }
    for (const to of targets) edges.push({ by, to, scope: scopeOf(), weight: weight(), ageMs: Math.floor(rnd() * 30 * DAY) + 60_000, expires: rnd() < 0.05 });
  }
  const dups = Math.floor(edges.length * 0.02);
  for (let i = 0; i < dups; i++) {
    const e = edges[Math.floor(rnd() * edges.length)] as Edge;
    edges.push({ ...e, weight: weight(), scope: scopeOf(), ageMs: e.ageMs + DAY + Math.floor(rnd() * 30 * DAY) });
  }
  return edges;
}

function policyOf(rootDids: readonly string[], maxDepth?: number): TrustPolicy {
  return TrustPolicyFile.parse({
    version: 2,
    roots: rootDids.map((issuer, i) => ({ issuer, scope: ['*'], weight: i % 4 === 0 ? 0.5 : 1 })),
    ...(maxDepth === undefined ? {} : { params: { maxDepth } }),
  });
}

function digestOf(i: number): string {
  return createHash('sha256').update(`bench-model-${i}`).digest('hex');
}

/** The child: the daemon over a prepared data dir, its URL on stdout. */
async function serve(root: string): Promise<void> {
  const daemon = await startDaemon(resolveHome({}, root), {
    env: {},
    overrides: { 'api.port': 0, 'net.enabled': false, 'api.writeRateLimitPerMinute': 100_000_000 },
    logger: makeLogger('warn', false),
  });
  process.stdout.write(`${daemon.url}\n`);
  process.on('SIGTERM', () => void daemon.stop().then(() => process.exit(0), () => process.exit(1)));
}

type Row = [string, string, string, string, string];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-rep-'));
  const children: ChildProcess[] = [];
  const rows: Row[] = [];
  const say = (r: Row): void => {
    rows.push(r);
    log(`${r[0].trim()}: ${r[1]}  [${r[2]}]  ${r[3]} ${r[4]}`);
  };
  let node: LocalNode | undefined;
  try {
    // ---- 1a. The pure computation, 10,000 issuers. ----
    log(`building the graph: ${fmt(PURE_ISSUERS)} issuers, ${PER_ENDORSER} endorsements each…`);
    const now = Date.now();
    // Issuers for the node part are real keys (they sign); the pure part reuses them at full
    // size, else random did:keys (deriving 10,000 keys in JS costs seconds).
    const t0 = performance.now();
    const issuers: TestIssuer[] = Array.from({ length: NODE_ISSUERS }, () => makeIssuer());
    log(`${fmt(NODE_ISSUERS)} issuer keys in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const pureDids = NODE_ISSUERS === PURE_ISSUERS
      ? issuers.map((i) => i.did as string)
      : Array.from({ length: PURE_ISSUERS }, () => didKeyFromPublicKey(new Uint8Array(randomBytes(32))) as string);
    const pureEdges = makeGraph(PURE_ISSUERS, prng(12));
    const inputs: EndorsementInput[] = pureEdges.map((e, i) => ({
      id: createHash('sha256').update(`e${i}`).digest('hex'),
      endorser: pureDids[e.by]!,
      endorsed: pureDids[e.to]!,
      scope: e.scope,
      weight: e.weight,
      issuedAt: now - e.ageMs,
      expiresAt: e.expires ? now + 365 * DAY : undefined,
      retracted: false,
    }));
    const purePolicy = policyOf(pureDids.slice(0, GRAPH_ROOTS));
    const purePolicy4 = policyOf(pureDids.slice(0, GRAPH_ROOTS), 4);
    const time = (fn: () => void, runs: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = performance.now();
        fn();
        out.push(performance.now() - s);
      }
      return out;
    };
    let g3: TrustGraph | undefined;
    let g4: TrustGraph | undefined;
    time(() => void TrustGraph.compute(purePolicy, inputs, now), 1); // warm-up
    const c3 = time(() => void (g3 = TrustGraph.compute(purePolicy, inputs, now)), PURE_RUNS);
    const c4 = time(() => void (g4 = TrustGraph.compute(purePolicy4, inputs, now)), PURE_RUNS);
    let sink = 0;
    const pass = time(() => {
      const m = new Map<string, number>();
      for (const e of inputs) m.set(e.endorser, (m.get(e.endorser) ?? 0) + e.weight);
      sink += m.size;
    }, PURE_RUNS + 1).slice(1);
    const sorted = time(() => {
      sink += [...inputs].sort((a, b) => (a.endorser < b.endorser ? -1 : a.endorser > b.endorser ? 1 : a.endorsed < b.endorsed ? -1 : a.endorsed > b.endorsed ? 1 : 0)).length;
    }, PURE_RUNS);
    if (sink < 0) log('unreachable');
    const passMs = median(pass);
    const sortMs = median(sorted);
    say([`trust graph compute, ${fmt(PURE_ISSUERS)} issuers / ${fmt(inputs.length)} endorsements, maxDepth 3 (default)`,
      `${fmt(median(c3), 1)} ms (${fmt(g3!.reachedCount)} count, ${fmt(g3!.edges)} live)`,
      `one Map pass: ${fmt(passMs, 1)} ms (${fmt(median(c3) / passMs, 1)}x); sort: ${fmt(sortMs, 1)} ms`, '< 1,000 ms', mark(median(c3) < 1000)]);
    say(['  same, maxDepth 4 (every endorsement in reach)', `${fmt(median(c4), 1)} ms (${fmt(g4!.reachedCount)} count)`,
      `one Map pass: ${fmt(passMs, 1)} ms (${fmt(median(c4) / passMs, 1)}x)`, '< 1,000 ms', mark(median(c4) < 1000)]);

    // ---- 1b. The node: one new endorsement updates the graph. ----
    const home = resolveHome({}, join(dir, 'home'));
    await initHome(home);
    const nodeEdges = NODE_ISSUERS === PURE_ISSUERS ? pureEdges : makeGraph(NODE_ISSUERS, prng(12));
    const dids = issuers.map((i) => i.did as string);
    // maxDepth 4, so the walk from the roots gathers (almost) every stored endorsement.
    await writePolicy(home.trust, policyOf(dids.slice(0, GRAPH_ROOTS), 4));
    // The churn budget (SPEC §14.8) off: this figure is the graph's own cost per change.
    node = await LocalNode.open(home, { env: {}, overrides: { 'limits.trustChangesPerIssuerPerMinute': 10_000, 'limits.trustRecomputesPerSecond': 1000 } });
    log(`signing and importing ${fmt(nodeEdges.length)} endorsements by ${fmt(NODE_ISSUERS)} issuers…`);
    let signMs = 0;
    let importMs = 0;
    let accepted = 0;
    const endorsementLine = (e: Edge, at: number): string => makeEnvelopeLine(issuers[e.by]!, {
      kind: 'endorsement',
      subjects: [endorsementSubject(dids[e.to]!)],
      fields: { endorsed: dids[e.to]!, scope: e.scope, weight: e.weight },
      issuedAt: new Date(at - e.ageMs),
      ...(e.expires ? { expiresAt: new Date(at + 365 * DAY) } : {}),
    });
    const importChunks = async (count: number, lineOf: (i: number) => string): Promise<void> => {
      for (let i = 0; i < count; i += CHUNK) {
        let s = performance.now();
        const lines: Buffer[] = [];
        for (let j = i; j < Math.min(count, i + CHUNK); j++) lines.push(Buffer.from(lineOf(j)));
        signMs += performance.now() - s;
        s = performance.now();
        const ds = await node!.ingestor.ingestMany(lines);
        importMs += performance.now() - s;
        accepted += ds.filter((d) => d.outcome === 'accept').length;
      }
    };
    await importChunks(nodeEdges.length, (i) => endorsementLine(nodeEdges[i]!, now));
    log(`endorsements: ${fmt(accepted)} accepted of ${fmt(nodeEdges.length)}; signing ${fmt(signMs / 1000, 1)} s, import ${fmt(importMs / 1000, 1)} s`);

    let s = performance.now();
    let graph = await node.trust();
    const coldMs = performance.now() - s;
    log(`cold node.trust(): ${fmt(coldMs, 1)} ms, ${fmt(graph.edges)} live endorsements, ${fmt(graph.reachedCount)} issuers count`);
    s = performance.now();
    await node.trust();
    const unchangedMs = performance.now() - s;

    // Pre-signed updates: each by an issuer the graph reaches, to another issuer (sometimes
    // one it already endorses: the new one supersedes).
    const reached = dids.filter((d) => graph.counts(d));
    const rnd = prng(99);
    const updates: string[] = [];
    const at = Date.now();
    for (let i = 0; i < UPDATES; i++) {
      const byDid = reached[Math.floor(rnd() * reached.length)]!;
      const by = dids.indexOf(byDid);
      let to = Math.floor(rnd() * NODE_ISSUERS);
      if (to === by) to = (to + 1) % NODE_ISSUERS;
      updates.push(endorsementLine({ by, to, scope: rnd() < 0.5 ? ['*'] : ['audit'], weight: Math.round((0.1 + 0.9 * rnd()) * 100) / 100, ageMs: -i * 1000, expires: false }, at));
    }
    const upd: number[] = [];
    const ingestOne: number[] = [];
    let recomputed = 0;
    for (const line of updates) {
      s = performance.now();
      const [d] = await node.ingestor.ingestMany([Buffer.from(line)]);
      ingestOne.push(performance.now() - s);
      if (d?.outcome !== 'accept') throw new Error(`update not accepted: ${JSON.stringify(d?.outcome)}`);
      s = performance.now();
      const next = await node.trust();
      upd.push(performance.now() - s);
      if (next !== graph) recomputed++;
      graph = next;
    }
    // Where the update's time goes: the cached gather (a warm EndorsementSource) and compute.
    const fullPolicy = await loadPolicy(home.trust);
    const withSelf = TrustPolicyFile.parse({ ...fullPolicy, roots: [...fullPolicy.roots, { issuer: node.identity.did, scope: ['*'], weight: 1 }] });
    const src = new EndorsementSource(node.store);
    await src.gather(withSelf, Date.now());
    const gathers: number[] = [];
    const computes: number[] = [];
    for (let i = 0; i < 5; i++) {
      s = performance.now();
      const edges = await src.gather(withSelf, Date.now());
      gathers.push(performance.now() - s);
      s = performance.now();
      TrustGraph.compute(withSelf, edges, Date.now());
      computes.push(performance.now() - s);
    }
    const updMed = median(upd);
    say([`one new endorsement -> node.trust(), ${fmt(NODE_ISSUERS)} issuers / ${fmt(accepted)} stored (maxDepth 4), median of ${UPDATES}`,
      `${fmt(updMed, 1)} ms (p90 ${fmt(quantile(upd, 0.9), 1)}, max ${fmt(Math.max(...upd), 1)}; ${recomputed}/${UPDATES} recomputed)`,
      `cold, from the store: ${fmt(coldMs, 1)} ms; unchanged: ${fmt(unchangedMs, 2)} ms`, '< 50 ms', mark(updMed < 50)]);
    say(['  of which: cached gather / compute', `${fmt(median(gathers), 1)} / ${fmt(median(computes), 1)} ms`,
      `${fmt(graph.edges)} live endorsements gathered; ingesting the one: ${fmt(median(ingestOne), 1)} ms`, '-', '']);

    // ---- 2. The daemon's policy (VIEW_ROOTS roots, default params) and ATT_ISSUERS issuers:
    // 80% of them count under it (roots and endorsed, spread over the graph), 20% strangers.
    const viewPolicy = policyOf(dids.slice(0, VIEW_ROOTS));
    await writePolicy(home.trust, viewPolicy);
    node.trustChanged();
    const viewGraph = await node.trust();
    const countingDids = dids.filter((d) => viewGraph.counts(d));
    const strangerDids = dids.filter((d) => !viewGraph.counts(d));
    const byDid = new Map(issuers.map((i) => [i.did as string, i]));
    const nCounting = Math.min(countingDids.length, Math.round(ATT_ISSUERS * 0.8));
    const pick = (from: readonly string[], k: number): TestIssuer[] => Array.from({ length: k }, (_, i) => byDid.get(from[Math.floor((i * from.length) / k)]!)!);
    const attIssuers = [...pick(countingDids, nCounting), ...pick(strangerDids, ATT_ISSUERS - nCounting)];
    log(`daemon policy: ${VIEW_ROOTS} roots, default params: ${fmt(countingDids.length)} of ${fmt(NODE_ISSUERS)} issuers count; attestations by ${nCounting} counting issuers and ${ATT_ISSUERS - nCounting} strangers`);
    const arnd = prng(7);
    const attestationLine = (i: number): string => {
      const r = arnd();
      const issuer = attIssuers[i % ATT_ISSUERS]!;
      const subjects = [digestOf(i % DIGESTS)];
      const issuedAt = new Date(now - 60_000 - Math.floor(arnd() * 30 * DAY));
      if (r < 0.1) return makeEnvelopeLine(issuer, { kind: 'payload', subjects, issuedAt, fields: arnd() < 0.8 ? exampleFields('payload', { finding: { kind: 'clean', description: 'no code in pickles' }, severity: 'info' }) : exampleFields('payload') });
      if (r < 0.2) return makeEnvelopeLine(issuer, { kind: 'license', subjects, issuedAt, fields: exampleFields('license', { verdict: arnd() < 0.9 ? 'compliant' : 'noncompliant' }) });
      const v = arnd();
      return makeEnvelopeLine(issuer, { subjects, issuedAt, fields: exampleFields('audit', { verdict: v < 0.8 ? 'pass' : v < 0.93 ? 'warn' : 'fail', metrics: { run: i } }) });
    };
    log(`signing and importing ${fmt(ATTESTATIONS)} attestations over ${fmt(DIGESTS)} digests by ${ATT_ISSUERS} issuers…`);
    signMs = 0;
    importMs = 0;
    accepted = 0;
    await importChunks(ATTESTATIONS, attestationLine);
    log(`attestations: ${fmt(accepted)} accepted; signing ${fmt(signMs / 1000, 1)} s, import ${fmt(importMs / 1000, 1)} s`);
    await node.close();
    node = undefined;

    // The daemon in a child process (the reference server runs in one too).
    s = performance.now();
    const daemonChild = spawn(process.execPath, [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROFILE] : []), SELF, '--serve', home.root], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(daemonChild);
    const url = await firstLine(daemonChild);
    const startMs = performance.now() - s;
    const token = (await readFile(home.token, 'utf8')).trim();
    const graphInfo = (await (await fetch(`${url}/v1/trust/graph`)).json()) as Record<string, unknown>;
    log(`daemon up in ${fmt(startMs)} ms at ${url}; graph: ${JSON.stringify(Object.fromEntries(Object.entries(graphInfo).filter(([, v]) => typeof v !== 'object')))}`);
    const order = Array.from({ length: DIGESTS }, (_, i) => (i * 7919) % DIGESTS);
    const pathOf = (i: number): string => `/v1/models/sha256:${digestOf(i)}/reputation?lookup=false`;
    const sampleView = (await (await fetch(url + pathOf(order[0]!))).json()) as { status: string; evidence: { total: number }; byPredicate: Record<string, { counted: number }> };
    const sample = JSON.stringify(sampleView);
    let countedSum = 0;
    const statuses = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const v = (await (await fetch(url + pathOf(order[(i * 97) % DIGESTS]!))).json()) as typeof sampleView;
      statuses.set(v.status, (statuses.get(v.status) ?? 0) + 1);
      countedSum += Object.values(v.byPredicate).reduce((a, p) => a + p.counted, 0);
    }
    log(`view sample: ${fmt(sample.length)} bytes; over 200 digests ${fmt(countedSum / 200, 1)} counted of ${sampleView.evidence.total} each, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);

    const { child: constant, url: constantUrl } = await startConstantServer(sample.length);
    children.push(constant);

    // Empties the daemon's view cache: a trust edit that changes no trust (a root's note) makes a new graph.
    let edits = 0;
    const freshGraph = async (): Promise<void> => {
      const r = await fetch(`${url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: dids[0], note: `bench ${++edits}` }) });
      if (!r.ok) throw new Error(`trust edit: ${r.status} ${await r.text()}`);
      await (await fetch(`${url}/v1/models/sha256:${'f'.repeat(64)}/reputation?lookup=false`)).arrayBuffer(); // recompute now, untimed
    };

    // One counter shared by every connection: each request a different digest, in turn.
    let next = 0;
    const roundRobin = (): autocannon.Request[] => [{ method: 'GET', setupRequest: (req) => ({ ...req, path: pathOf(order[next++ % DIGESTS]!) }) }];
    const unknown = Array.from({ length: 500 }, () => ({ method: 'GET' as const, path: `/v1/models/sha256:${randomBytes(32).toString('hex')}/reputation?lookup=false` }));

    log(`load: reference (constant ${fmt(sample.length)}-byte JSON), ${DURATION} s…`);
    await load({ url: constantUrl, connections: CONNECTIONS, duration: 2, requests: roundRobin() });
    const ref = await load({ url: constantUrl, connections: CONNECTIONS, duration: DURATION, requests: roundRobin() });
    await stopChild(constant);
    // Warm the daemon's HTTP path and JIT on digests it holds nothing about (caching none of the real ones).
    await load({ url, connections: CONNECTIONS, duration: 2, requests: unknown });
    await freshGraph();
    next = 0;
    // The view cache holds 20,000 attestations (~4,000 digests here): in the full run every
    // digest comes round again only after all the others, long evicted. The quick store fits
    // in the cache, so the quick run makes one lap only.
    log(`load: reputation, every request a different digest of ${fmt(DIGESTS)}, ${QUICK ? 'one lap' : `${DURATION} s`}…`);
    const rssBefore = await rssMB(daemonChild.pid!);
    const rep = await load({ url, connections: CONNECTIONS, requests: roundRobin(), ...(QUICK ? { amount: DIGESTS } : { duration: DURATION }) });
    const rssAfter = await rssMB(daemonChild.pid!);
    const repRate = rep.requests.total / rep.duration;
    const refRate = ref.requests.total / ref.duration;
    log(`reputation: ${fmt(rep.requests.total)} requests (${fmt(rep.requests.total / DIGESTS, 1)} laps), ${rep.non2xx} non-2xx, ${rep.errors} errors; daemon RSS ${fmt(rssBefore)} -> ${fmt(rssAfter)} MB`);
    say([`GET reputation, every request a different digest of ${fmt(DIGESTS)} (${fmt(ATTESTATIONS)} stored), ${CONNECTIONS} conns`,
      `${fmt(repRate)} req/s`, `constant JSON: ${fmt(refRate)} req/s`, `${fmt((repRate / refRate) * 100)}% (goal >= 50%)`, mark(repRate >= 0.5 * refRate)]);
    say(['  latency p50 / p99', `${fmt(rep.latency.p50, 1)} / ${fmt(rep.latency.p99, 1)} ms`, `constant: ${fmt(ref.latency.p50, 1)} / ${fmt(ref.latency.p99, 1)} ms`, 'p99 < 10 ms', mark(rep.latency.p99 < 10)]);

    // Batch query: 1,000 distinct digests a call, each call a fresh graph (empty view cache).
    const qt: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      await freshGraph();
      const body = JSON.stringify({ digests: Array.from({ length: 1000 }, (_, i) => digestOf(order[(b * 1000 + i) % DIGESTS]!)) });
      const t = performance.now();
      const r = await fetch(`${url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const res = (await r.json()) as { results: unknown[] };
      qt.push(performance.now() - t);
      if (!r.ok || res.results.length !== 1000) throw new Error(`query: ${r.status}`);
    }
    // And the same 1,000 again, views' attestations cached: what a repeated batch costs.
    const body = JSON.stringify({ digests: Array.from({ length: 1000 }, (_, i) => digestOf(order[i]!)) });
    const warm: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      await (await fetch(`${url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).arrayBuffer();
      warm.push(performance.now() - t);
    }
    say(['POST /v1/query, 1,000 distinct digests, cold (empty view cache)', `p50 ${fmt(median(qt), 1)} / max ${fmt(Math.max(...qt), 1)} ms (${BATCHES} calls)`,
      `the same batch again, cached: p50 ${fmt(median(warm.slice(1)), 1)} ms`, '< 100 ms', mark(quantile(qt, 0.99) < 100)]);

    await stopChild(daemonChild);

    console.log(`\nbench:reputation${QUICK ? ' (quick)' : ''} — pure graph in process; node over LevelDB in process; daemon and reference in child processes, load from this process over loopback (${CONNECTIONS} connections)`);
    console.log(table(FIGURE_HEAD, rows));
  } finally {
    await node?.close().catch(() => undefined);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) await serve(process.argv[serveAt + 1] as string);
else await main();
