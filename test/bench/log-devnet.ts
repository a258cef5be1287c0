/**
 * Issuer logs on a devnet (issue 21, SPEC §16.3–16.5): `node dist/test/bench/log-devnet.js
 * [--nodes N | --quick]` (20 nodes; quick: 8), or runLogDevnet() from bench:log. A
 * benchmark, never a test: it prints each figure beside a reference measured in the same
 * run, and PASS/MISS against the goal, whatever the figures.
 *
 * Every node is its own `chorus start` process (the built CLI) with its own data dir, on
 * loopback TCP, bootstrapped to the first, checkpointing every second. The issuers' logs
 * are served by bare libp2p hosts in this process (test/support/log-peer.ts):
 *   1. Withholding: issuer W has 3 audits of digest D and a retraction of one of them, a log
 *      of 4 leaves and a checkpoint. A "withholder" host serves all of it but the
 *      retraction and dials every node: no node's view of D may say complete while the
 *      retraction is missing (checked by polling every node's view throughout). Then an
 *      "honest" host serving everything dials ONE node; measured: until every node's view
 *      of D is complete. Goal < 10 s.
 *   2. Equivocation: issuer K shows history A (host HA, dials the first half of the nodes)
 *      and history B (host HB, the rest): same size, same first leaf, different second.
 *      Measured: from the dials until every node's GET /v1/equivocations lists K. Goal < 30 s.
 * Reference: ordinary attestations POSTed to n1, the time until every node's event stream
 * (GET /v1/events) reports them.
 *
 * Withholding runs first: an issuer caught equivocating leaves every view incomplete on the
 * node from then on (the completeness summary counts equivocators), so the order matters.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Libp2p } from 'libp2p';
import { multiaddr } from '@multiformats/multiaddr';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, signNote } from '../../src/tlog/note.js';
import { logOrigin, timeExtension } from '../../src/tlog/witness.js';
import { attestationMessageId } from '../../node/net/gossip.js';
import { makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { serveLogPeer, type LogPeerContent } from '../support/log-peer.js';
import { FIGURE_HEAD, QUICK, bareHost, cliEnv, daemonUrl, fmt, logger, mark, numArg, outputTail, quantile as pct, runCli, sleep, spawnCli, sseEvents, stopChild, table } from './kit.js';

const log = logger('bench:log-devnet');
const sec = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
const POLL_MS = 150;
const REFERENCE_PUBLISHES = 5;
const EQUIVOCATION_GOAL_MS = 30_000;
const WITHHOLD_GOAL_MS = 10_000;
/** What each running runLogDevnet must undo (stop its processes and hosts, remove its dir), for a signal. */
const cleanups = new Set<() => Promise<void>>();

interface Proc { name: string; child: ChildProcess; home: string; url: string; token: string; addr: string }

interface ViewJson {
  completeness?: { complete: boolean; summary: string; missing: number; issuers: { issuer: string; state: string; verified: number; known: number; missing: number }[] };
}

/** The attestation id of an envelope line (sha256 of its DSSE PAE), as the node computes it. */
const idOf = (line: string): string => toHex(attestationMessageId(new TextEncoder().encode(line)));

/** `chorus init`, config.json with a checkpoint every second, then `chorus start`; resolves once its API answers. */
async function startNode(root: string, name: string, bootstrap: string[], procs: Proc[]): Promise<Proc> {
  const home = join(root, name);
  await runCli(['init'], home);
  const cfgPath = join(home, 'config.json');
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8').catch(() => '{}')) as Record<string, Record<string, unknown> | undefined>;
  cfg['transparency'] = { ...cfg['transparency'], checkpointSeconds: 1 };
  await writeFile(cfgPath, JSON.stringify(cfg, null, 2));
  const args = ['start', '--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-upnp', '--log-level', 'warn', ...(bootstrap.length ? ['--bootstrap', ...bootstrap] : [])];
  const child = spawnCli(args, { home, env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, home, url: '', token: '', addr: '' };
  procs.push(p); // stopped at the end whatever happens next
  const out = outputTail(child);
  p.url = await daemonUrl(child, home, { timeoutMs: 60_000, what: () => `${name}: ${out()}` });
  p.token = (await readFile(join(home, 'api-token'), 'utf8')).trim();
  const st = (await (await fetch(`${p.url}/v1/status`)).json()) as { network: { peerId: string; listen: string[] } | null };
  if (!st.network) throw new Error(`${name} runs without the network`);
  const a = st.network.listen.find((x) => x.includes('/ip4/127.0.0.1/tcp/')) ?? st.network.listen[0]!;
  p.addr = a.includes('/p2p/') ? a : `${a}/p2p/${st.network.peerId}`;
  return p;
}

/** A bare libp2p host on loopback (TCP, Noise, Yamux, identify) serving the log and sync protocols from `content`. */
async function logPeer(content: LogPeerContent): Promise<Libp2p> {
  const h = await bareHost();
  await serveLogPeer(h, content);
  return h;
}

/** Follows a node's event stream (attestations only), calling `seen(id)` for each accepted one. */
async function follow(p: Proc, signal: AbortSignal, seen: (id: string) => void): Promise<void> {
  try {
    const res = await fetch(`${p.url}/v1/events?status=false`, { signal, headers: { authorization: `Bearer ${p.token}` } });
    for await (const ev of sseEvents(res.body!)) if (ev.event === 'attestation' && ev.data) seen((JSON.parse(ev.data) as { id: string }).id);
  } catch (e) {
    if (!signal.aborted) log(`event stream of ${p.name} ended: ${(e as Error).message}`);
  }
}

async function api(p: Proc, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  return fetch(`${p.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${p.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

async function trustAll(procs: Proc[], did: string): Promise<void> {
  await Promise.all(procs.map(async (p) => {
    const r = await api(p, 'POST', '/v1/trust', { op: 'trust', issuer: did });
    if (r.status !== 200) throw new Error(`${p.name}: trust answered ${r.status}: ${await r.text()}`);
  }));
}

async function view(p: Proc, digest: string): Promise<ViewJson> {
  return (await (await fetch(`${p.url}/v1/models/sha256:${digest}/reputation?lookup=false`)).json()) as ViewJson;
}

/**
 * Polls `check` on every node until it holds for all (or `timeoutMs`): per node, the ms
 * from `t0` to the first poll where it held (undefined: never). `each` sees every answer.
 */
async function pollAll<T>(procs: Proc[], t0: number, timeoutMs: number, probe: (p: Proc) => Promise<T>, check: (v: T) => boolean, each?: (p: Proc, v: T) => void): Promise<(number | undefined)[]> {
  const at: (number | undefined)[] = procs.map(() => undefined);
  const end = t0 + timeoutMs;
  for (;;) {
    await Promise.all(procs.map(async (p, i) => {
      if (at[i] !== undefined && each === undefined) return;
      try {
        const v = await probe(p);
        each?.(p, v);
        if (at[i] === undefined && check(v)) at[i] = performance.now() - t0;
      } catch {
        // a slow or failing answer: asked again next round
      }
    }));
    if (at.every((x) => x !== undefined) || performance.now() > end) return at;
    await sleep(POLL_MS);
  }
}

/** A checkpoint note of `issuer`'s log over `ids`, signed now. */
function checkpoint(issuer: TestIssuer, ids: readonly string[]): string {
  const t = new MerkleTree();
  for (const id of ids) t.append(leafHash(fromHex(id)!));
  return signNote(checkpointText({ origin: logOrigin(issuer.did), size: ids.length, root: t.root(), extensions: [timeExtension(Date.now())] }), logOrigin(issuer.did), issuer.secretKey);
}

const done = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
const spread = (xs: (number | undefined)[]): string => {
  const d = done(xs);
  if (d.length === 0) return `none of ${xs.length} nodes`;
  const head = d.length === xs.length ? `all ${xs.length} nodes` : `only ${d.length}/${xs.length} nodes`;
  return `${head}: max ${sec(Math.max(...d))}, p50 ${sec(pct(d, 0.5))}`;
};

export async function runLogDevnet(opts: { nodes: number }): Promise<void> {
  const N = Math.max(2, Math.floor(opts.nodes));
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-log-devnet-'));
  const procs: Proc[] = [];
  const hosts: Libp2p[] = [];
  const streams = new AbortController();
  const following: Promise<void>[] = [];
  const started = performance.now();
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    streams.abort();
    await Promise.allSettled(following);
    await Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
    await Promise.all(procs.map((p) => stopChild(p.child, 10_000)));
    await rm(root, { recursive: true, force: true });
  })());
  cleanups.add(cleanup);
  try {
    // The devnet.
    log(`starting ${N} chorus processes…`);
    const first = await startNode(root, 'n0', [], procs);
    for (let i = 1; i < N; i += 4) {
      await Promise.all(Array.from({ length: Math.min(4, N - i) }, (_, k) => startNode(root, `n${i + k}`, [first.addr], procs)));
    }
    const nodes = [...procs].sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
    const t0 = performance.now();
    const want = Math.min(3, N - 1);
    await pollAll(nodes, t0, 30_000, async (p) => ((await (await fetch(`${p.url}/v1/peers`)).json()) as { peers: unknown[] }).peers.length, (n) => n >= want);
    log(`${N} nodes up in ${sec(performance.now() - started)}, connected in ${sec(performance.now() - t0)}; 4 s for the gossip mesh to form…`);
    await sleep(4_000);

    // Event streams of every node: the reference.
    const arrived = new Map<string, Map<number, number>>();
    nodes.forEach((p, i) => following.push(follow(p, streams.signal, (id) => {
      const m = arrived.get(id) ?? arrived.set(id, new Map()).get(id)!;
      if (!m.has(i)) m.set(i, performance.now());
    })));
    await sleep(500);

    // Reference: ordinary attestations (by an issuer no node trusts, so completeness is untouched) POSTed to n1.
    const n1 = nodes[Math.min(1, N - 1)]!;
    log(`reference: ${REFERENCE_PUBLISHES} ordinary attestations POSTed to ${n1.name}…`);
    const stranger = makeIssuer();
    const toAll: number[] = [];
    const perNode: number[] = [];
    let refMissed = 0;
    for (let k = 0; k < REFERENCE_PUBLISHES; k++) {
      const line = makeEnvelopeLine(stranger, { subjects: [randomDigest()] });
      const id = idOf(line);
      const t = performance.now();
      const r = await api(n1, 'POST', '/v1/attestations', line);
      if (r.status !== 201) throw new Error(`reference publish answered ${r.status}: ${await r.text()}`);
      const end = t + 15_000;
      while ((arrived.get(id)?.size ?? 0) < N && performance.now() < end) await sleep(20);
      const times = [...(arrived.get(id)?.values() ?? [])].map((x) => x - t);
      perNode.push(...times);
      if (times.length < N) refMissed++;
      else toAll.push(Math.max(...times));
      await sleep(300);
    }
    const refText = toAll.length === 0 ? `ordinary attestation POSTed to n1 never reached all ${N} nodes` : `ordinary attestation POSTed to n1 → all ${N} nodes' event streams: median ${sec(pct(toAll, 0.5))}, worst ${sec(Math.max(...toAll))} (${toAll.length}/${REFERENCE_PUBLISHES}); per node p50 ${sec(pct(perNode, 0.5))}`;
    log(`reference: ${refText}${refMissed ? `; ${refMissed} publishes did not reach every node in 15 s` : ''}`);

    // 1. Withholding.
    const w = makeIssuer();
    const digest = randomDigest();
    const audits = [0, 1, 2].map((i) => makeEnvelopeLine(w, { subjects: [digest], issuedAt: new Date(Date.now() - 120_000 - i * 1000) }));
    const auditIds = audits.map(idOf);
    const retraction = makeEnvelopeLine(w, { kind: 'retraction', subjects: [digest], fields: { target: auditIds[0], reason: 'the audit ran the wrong file' }, issuedAt: new Date(Date.now() - 60_000) });
    const rid = idOf(retraction);
    const wIds = [...auditIds, rid];
    const wNote = checkpoint(w, wIds);
    log(`withholding: all nodes trust W; the withholder (everything but the retraction) dials all ${N} nodes…`);
    await trustAll(nodes, w.did);
    let everComplete = 0;
    let tW = 0;
    const completeSeen = new Set<string>();
    const watchComplete = (p: Proc, v: ViewJson): void => {
      if (v.completeness?.complete === true) {
        if (!completeSeen.has(p.name)) log(`withholding: ${p.name}'s view said complete ${sec(performance.now() - tW)} after the withholder's dials: ${JSON.stringify(v.completeness)}`);
        everComplete++;
        completeSeen.add(p.name);
      }
    };
    const withholder = await logPeer({ notes: new Map([[w.did, wNote]]), leaves: new Map([[w.did, wIds]]), envelopes: new Map(auditIds.map((id, i) => [id, audits[i]!])) });
    hosts.push(withholder);
    tW = performance.now();
    await Promise.all(nodes.map((p) => withholder.dial(multiaddr(p.addr)).catch((e: unknown) => log(`withholder → ${p.name}: ${(e as Error).message}`))));
    const wOf = (v: ViewJson) => v.completeness?.issuers.find((i) => i.issuer === w.did);
    const seenMissing = await pollAll(nodes, tW, 60_000, (p) => view(p, digest), (v) => wOf(v)?.verified === 4 && wOf(v)?.missing === 1, watchComplete);
    log(`withholding: ${spread(seenMissing)} show W's log verified 4, missing 1${everComplete ? `; COMPLETE SEEN on ${[...completeSeen].join(', ')}` : '; no view said complete'}`);
    // A little longer, still watching: the nodes retry other peers (which lack it too); no view may say complete.
    await pollAll(nodes, performance.now(), 2_000, (p) => view(p, digest), () => false, watchComplete);
    const statusIds = await Promise.all(nodes.map(async (p) => ((await (await fetch(`${p.url}/v1/issuers/${w.did}/log/status`)).json()) as { missingIds?: string[] }).missingIds ?? []));
    const namedRight = statusIds.filter((ids) => ids.length === 1 && ids[0] === rid).length;

    const honest = await logPeer({ notes: new Map([[w.did, wNote]]), leaves: new Map([[w.did, wIds]]), envelopes: new Map([...auditIds.map((id, i) => [id, audits[i]!] as const), [rid, retraction]]) });
    hosts.push(honest);
    log(`withholding: the honest host dials ${n1.name} only…`);
    const t1 = performance.now();
    await honest.dial(multiaddr(n1.addr));
    const completeAt = await pollAll(nodes, t1, 60_000, (p) => view(p, digest), (v) => v.completeness?.complete === true);
    const retractionAt = nodes.map((_, i) => {
      const t = arrived.get(rid)?.get(i);
      return t === undefined ? undefined : t - t1;
    });
    log(`withholding: complete on ${spread(completeAt)} (retraction in the event streams: ${spread(retractionAt)})`);

    // 2. Equivocation.
    const k = makeIssuer();
    const shared = makeEnvelopeLine(k, { subjects: [randomDigest()] });
    const historyA = [shared, makeEnvelopeLine(k, { subjects: [randomDigest()] })];
    const historyB = [shared, makeEnvelopeLine(k, { subjects: [randomDigest()] })];
    const content = (h: string[]): LogPeerContent => {
      const ids = h.map(idOf);
      return { notes: new Map([[k.did, checkpoint(k, ids)]]), leaves: new Map([[k.did, ids]]), envelopes: new Map(ids.map((id, i) => [id, h[i]!])) };
    };
    log(`equivocation: all nodes trust K; HA (history A) dials n0..n${Math.ceil(N / 2) - 1}, HB (history B) the rest…`);
    await trustAll(nodes, k.did);
    const ha = await logPeer(content(historyA));
    hosts.push(ha);
    const hb = await logPeer(content(historyB));
    hosts.push(hb);
    const half = Math.ceil(N / 2);
    const tE = performance.now();
    await Promise.all(nodes.map((p, i) => (i < half ? ha : hb).dial(multiaddr(p.addr)).catch((e: unknown) => log(`${i < half ? 'HA' : 'HB'} → ${p.name}: ${(e as Error).message}`))));
    const eqAt = await pollAll(nodes, tE, 60_000, async (p) => ((await (await fetch(`${p.url}/v1/equivocations`)).json()) as { items: { issuer: string }[] }).items, (items) => items.some((x) => x.issuer === k.did));
    log(`equivocation: proof on ${spread(eqAt)}`);

    // The table.
    const eqDone = done(eqAt);
    const cDone = done(completeAt);
    const eqOk = eqDone.length === N && Math.max(...eqDone) < EQUIVOCATION_GOAL_MS;
    const cOk = cDone.length === N && Math.max(...cDone) < WITHHOLD_GOAL_MS;
    const noFalseComplete = everComplete === 0 && done(seenMissing).length === N;
    const rows: string[][] = [
      ['equivocation: proof at every node (from the dials of HA/HB)', spread(eqAt), refText, `every node < ${EQUIVOCATION_GOAL_MS / 1000} s`, mark(eqOk)],
      ['withholding: views while the retraction is withheld', `${done(seenMissing).length}/${N} nodes saw W verified 4, missing 1 (by ${sec(Math.max(0, ...done(seenMissing)))}); the missing id named right on ${namedRight}/${N}; views that said complete: ${everComplete === 0 ? 'none' : `${everComplete} (on ${[...completeSeen].join(', ')})`}`, '-', 'no view complete', mark(noFalseComplete)],
      ['withholding: complete after an honest peer dials n1', spread(completeAt), refText, `every node < ${WITHHOLD_GOAL_MS / 1000} s`, mark(cOk)],
    ];
    console.log(`\nbench:log-devnet — ${N} chorus processes (the built CLI), loopback TCP, transparency.checkpointSeconds 1; run took ${sec(performance.now() - started)}`);
    console.log(table(FIGURE_HEAD, rows));
  } finally {
    await cleanup();
    cleanups.delete(cleanup);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Run alone: node dist/test/bench/log-devnet.js [--quick | --nodes N]
  const nodes = numArg('--nodes', QUICK ? 8 : 20);
  if (!Number.isInteger(nodes) || nodes < 2) {
    console.error('--nodes N: at least 2');
    process.exit(2);
  }
  // Ctrl-C or SIGTERM: stop the nodes and hosts, remove the dirs, then exit (a second signal exits at once).
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping the nodes…');
    void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  runLogDevnet({ nodes }).then(() => process.exit(0), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
