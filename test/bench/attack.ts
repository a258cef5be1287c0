/**
 * Attack benchmark: `npm run build && npx node dist/test/bench/attack.js [--quick]`.
 * A benchmark, never a test: each figure is printed beside a baseline measured in the same
 * run, with its goal (issue 11), and the process exits 0 whatever the figures.
 *
 * Three processes, so that what is measured is the victim alone: this one (orchestrator:
 * HTTP probes, the honest node of figure 2), a victim (startDaemon in process, with an
 * event-loop delay monitor) and an attacker (bare libp2p hosts), both forks of this file
 * (`--role victim|attacker`), driven over the IPC channel.
 *
 *   1. Hostile sync requests against a node holding N attestations (150,000; quick 20,000):
 *      512 overlapping whole-set ranges (refused), then 512 sorted non-overlapping ranges
 *      splitting the key space, each with a wrong fingerprint (legal but heavy), from 2
 *      streams in parallel — first from one peer id, then from a fresh peer id each time the
 *      victim blocks the last. /healthz p50/p99 and the victim's event-loop delay meanwhile;
 *      baseline: the same with the node idle.
 *   2. Sybil flood: fresh keys (4,000; quick 500) gossiping ~63 KB envelopes of an unknown
 *      predicate type from one peer for 5 minutes (quick 30 s) at a victim with a small
 *      stranger pool, while a trusted issuer publishes one attestation a second from another
 *      node: pool use vs budget, honest arrivals, victim RSS, the trusted verdict.
 *   3. A digest with 100,000 untrusted attestations (quick 10,000): GET reputation latency
 *      and size, POST /v1/query naming it 1,000 times; baseline: a digest with 10.
 *
 * Round two (issue 20), each in a module beside this file with a victim of its own:
 * attack-net.ts (ADD_PROVIDER flood, connection flood from fresh peer ids, a blocked peer's
 * redials), attack-sse.ts (64 full replays), attack-churn.ts (a trusted issuer churning its
 * endorsements), attack-disk.ts (disk full, then freed), attack-admission.ts (new issuers
 * from fresh peer ids; an honest stranger's pool share), attack-cookie.ts (a session cookie
 * replayed from another port). `--only round1,net,sse,churn,disk,admission,cookie` picks groups.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Libp2p } from 'libp2p';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { LocalNode } from '../../node/local/local-node.js';
import { Network } from '../../node/net/network.js';
import { ATTESTATION_TOPIC } from '../../node/net/constants.js';
import { gossipsubOptions } from '../../node/net/host.js';
import { answerReconcile, SYNC_PROTOCOL } from '../../node/net/sync.js';
import { MAX_BOUND, MIN_BOUND, SyncIndex, type Bound } from '../../node/net/sync-index.js';
import { figureAdmission } from './attack-admission.js';
import { figureChurn } from './attack-churn.js';
import { figureCookie } from './attack-cookie.js';
import { figureDiskFull } from './attack-disk.js';
import { figuresNet } from './attack-net.js';
import { figureSse } from './attack-sse.js';
import { Child, ROLE, healthProbe, log, rssSampler, serve, timedGet, type Row } from './attack-kit.js';
import { QUICK, arg, bareHost, fmt, met, pct, rssMB, sleep, sorted, table } from './kit.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';

// ---------------------------------------------------------------------------------------
// Parameters

const silent = makeLogger('silent', false);

/** Figure 1: attestations stored at the victim; figure 3: how many of them are about one digest. */
const STORED = QUICK ? 20_000 : 150_000;
const HOT = QUICK ? 10_000 : 100_000;
const STRANGERS = 1_000;
const TRUSTED = 5;
const SYNC_SECONDS = QUICK ? 5 : 20;
const RANGES = 512;
/** Figure 2. */
const SYBILS = QUICK ? 500 : 4_000;
const FLOOD_SECONDS = QUICK ? 30 : 300;
const POOL_BYTES = (QUICK ? 16 : 64) * 1024 * 1024;
/** What the attacker tries to push (the victim's per-peer limit is 200 msg/s, 1 MiB/s). */
const FLOOD_MSGS_PER_SECOND = 150;
const BLOB_TYPE = 'https://example.org/blob/v1';
const BLOB = 'x'.repeat(46_500);
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------
// Victim: a daemon in this process.

interface VictimSetup {
  dir: string;
  /** Fill the store with STORED attestations (HOT about one digest), 5 trusted issuers. */
  fill: boolean;
  /** Issuers to trust besides the generated ones. */
  trust: string[];
  overrides: Record<string, unknown>;
}

interface VictimInfo {
  url: string;
  addr: string;
  peerId: string;
  size: number;
  hot: string;
  small: string;
  fillSeconds: number;
}

interface ElStats { p50: number; p99: number; max: number; mean: number; cpuMs: number; wallMs: number }

async function victimRole(): Promise<void> {
  let daemon: Daemon | undefined;
  let el: IntervalHistogram | undefined;
  let elCpu = process.cpuUsage();
  let elWall = performance.now();
  const abuses = new Map<string, number>();
  const gossipFrom = new Map<string, Record<string, number>>();
  const codes = new Map<string, number>();

  serve({
    setup: async (a: VictimSetup): Promise<VictimInfo> => {
      const home = resolveHome({}, a.dir);
      await initHome(home);
      const hot = randomDigest();
      const small = randomDigest();
      const trusted: TestIssuer[] = Array.from({ length: TRUSTED }, () => makeIssuer());
      await replaceRoots(home.trust, [...trusted.map((t) => ({ issuer: t.did })), ...a.trust.map((issuer) => ({ issuer }))], new Date());
      let fillSeconds = 0;
      if (a.fill) {
        // Build the store before the daemon starts: LocalNode in this process, then closed.
        const t0 = performance.now();
        const node = await LocalNode.open(home, { env: {}, overrides: a.overrides });
        const strangers = Array.from({ length: STRANGERS }, () => makeIssuer());
        const now = Date.now();
        const at = (): Date => new Date(now - 60_000 - Math.random() * 30 * DAY);
        const audit = (verdict: string, i: number): Record<string, unknown> => ({ harness: { name: 'lm-eval', version: '0.4.2' }, metrics: { run: i }, verdict });
        const CHUNK = 5_000;
        let made = 0;
        // The digest with 10: 5 trusted, 5 strangers; the hot digest: 5 trusted, HOT strangers.
        let chunk: string[] = [];
        for (const [i, t] of trusted.entries()) {
          chunk.push(makeEnvelopeLine(t, { subjects: [hot], issuedAt: at(), fields: audit('pass', i) }));
          chunk.push(makeEnvelopeLine(t, { subjects: [small], issuedAt: at(), fields: audit('pass', i) }));
          chunk.push(makeEnvelopeLine(strangers[i]!, { subjects: [small], issuedAt: at(), fields: audit('fail', i) }));
        }
        made = chunk.length;
        while (made < STORED) {
          const i = made;
          const hotOne = i - 3 * TRUSTED < HOT;
          chunk.push(makeEnvelopeLine(strangers[i % STRANGERS]!, { subjects: hotOne ? [hot] : [randomDigest()], issuedAt: at(), fields: audit(i % 3 === 0 ? 'fail' : 'pass', i) }));
          made++;
          if (chunk.length >= CHUNK || made >= STORED) {
            await node.ingestor.ingestMany(chunk, () => {});
            chunk = [];
            if (made % 50_000 < CHUNK) log(`stored ${fmt(node.store.size)} / ${fmt(STORED)}`);
          }
        }
        await node.ingestor.idle();
        await node.close();
        fillSeconds = (performance.now() - t0) / 1000;
      }
      daemon = await startDaemon(home, { env: {}, overrides: a.overrides, logger: silent });
      const net = daemon.network!;
      // Count what the victim holds against peers, and what gossip brought per peer.
      const abuse = net.penalties.abuse.bind(net.penalties);
      net.penalties.abuse = (peer: string, why: string): void => {
        abuses.set(why, (abuses.get(why) ?? 0) + 1);
        abuse(peer, why);
      };
      const ps = net.host.services.pubsub;
      const validator = ps.topicValidators.get(ATTESTATION_TOPIC)!;
      ps.topicValidators.set(ATTESTATION_TOPIC, async (from, msg) => {
        const r = await validator(from, msg);
        const k = from.toString();
        const c = gossipFrom.get(k) ?? {};
        c[r] = (c[r] ?? 0) + 1;
        c['bytes'] = (c['bytes'] ?? 0) + msg.data.byteLength;
        gossipFrom.set(k, c);
        return r;
      });
      daemon.node.ingestor.onCommitted((ds) => {
        for (const d of ds) codes.set(d.code, (codes.get(d.code) ?? 0) + 1);
      });
      return { url: daemon.url, addr: net.listenAddrs[0]!, peerId: net.peerId, size: daemon.node.store.size, hot, small, fillSeconds };
    },
    elStart: async () => {
      el?.disable();
      el = monitorEventLoopDelay({ resolution: 10 });
      el.enable();
      elCpu = process.cpuUsage();
      elWall = performance.now();
      return null;
    },
    elStop: async (): Promise<ElStats> => {
      const h = el!;
      h.disable();
      const c = process.cpuUsage(elCpu);
      const ms = (ns: number): number => ns / 1e6;
      return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - elWall };
    },
    /**
     * One heavy request's own cost, measured alone in this (idle) process on an index of
     * the store built the way the node builds its own: the answer (which yields every 64
     * ranges) and the reply's encoding; the longest stretch without a turn of the loop.
     */
    reconcileCost: async (): Promise<{ cpuMs: number[]; answerMs: number[]; encodeMs: number[]; longestBlockMs: number; replyBytes: number }> => {
      const index = new SyncIndex();
      for await (const k of daemon!.node.store.timeKeys()) index.add(k.t, k.id);
      const req = hostileRanges('heavy') as { ranges: Parameters<typeof answerReconcile>[1] };
      const r = { cpuMs: [] as number[], answerMs: [] as number[], encodeMs: [] as number[], longestBlockMs: 0, replyBytes: 0 };
      let last = performance.now();
      let on = true;
      const tick = (): void => {
        const n = performance.now();
        r.longestBlockMs = Math.max(r.longestBlockMs, n - last);
        last = n;
        if (on) setImmediate(tick);
      };
      for (let i = 0; i < 12; i++) {
        const c = process.cpuUsage();
        const s = performance.now();
        if (i === 2) {
          // Warm-up runs are not counted in the longest block.
          last = performance.now();
          setImmediate(tick);
        }
        const out = await answerReconcile(index, req.ranges);
        const e = performance.now();
        r.replyBytes = new TextEncoder().encode(JSON.stringify({ ranges: out })).length;
        const d = process.cpuUsage(c);
        if (i < 2) continue;
        r.answerMs.push(e - s);
        r.encodeMs.push(performance.now() - e);
        r.cpuMs.push((d.user + d.system) / 1000);
      }
      on = false;
      return r;
    },
    abuses: async () => Object.fromEntries(abuses),
    blocked: async (a: { peers: string[] }) => a.peers.filter((p) => daemon!.network!.penalties.isBlocked(p)).length,
    connected: async (a: { peers: string[] }) => a.peers.filter((p) => daemon!.network!.host.getConnections().some((c) => c.remotePeer.toString() === p)).length,
    gossip: async () => ({ from: Object.fromEntries(gossipFrom), codes: Object.fromEntries(codes) }),
    pool: async () => ({ used: daemon!.node.pool.usedBytes, budget: daemon!.node.pool.budget, size: daemon!.node.store.size }),
    exit: async () => {
      el?.disable();
      await daemon?.stop();
      setTimeout(() => process.exit(0), 50);
      return null;
    },
  });
  await new Promise(() => {});
}

// ---------------------------------------------------------------------------------------
// Attacker: bare libp2p hosts with the node's transports.

/**
 * A bare host; with pubsub, the node's own gossipsub options (node/net/host.ts), so the
 * attacker speaks gossip as a node does and cannot drift from it (its peers' application
 * score is 0: a bare host keeps no penalties). One override: the attacker ignores peer
 * exchange. The node's threshold (0) would let a victim that prunes it hand it the honest
 * node of figure 2, which it would then flood too; the victim alone is the target, as it
 * was before these options were shared (gossipsub's default threshold, 10, ignored it).
 */
async function attackHost(withPubsub: boolean): Promise<Libp2p<{ pubsub?: GossipSub }>> {
  if (!withPubsub) return (await bareHost()) as unknown as Libp2p<{ pubsub?: GossipSub }>;
  const node = gossipsubOptions(() => 0);
  const pubsub = gossipsub({ ...node, scoreThresholds: { ...node.scoreThresholds, acceptPXThreshold: Infinity } });
  return (await bareHost({ pubsub })) as unknown as Libp2p<{ pubsub?: GossipSub }>;
}

interface SyncAttack { addr: string; variant: 'overlap' | 'heavy'; streams: number; seconds: number; rotate: boolean }
interface SyncResult {
  served: number;
  refused: number;
  dialFailed: number;
  peers: string[];
  /** ms from start until the victim first refused / dropped the (first) peer. */
  firstRefusalMs: number | null;
  disconnectedMs: number | null;
  requestBytes: number;
  replyBytes: number;
  replyMs: number[];
}

function hostileRanges(variant: 'overlap' | 'heavy'): unknown {
  const wrong = { fp: '0'.repeat(32), n: 1 };
  if (variant === 'overlap') return { type: 'reconcile', ranges: Array.from({ length: RANGES }, () => ({ lo: [...MIN_BOUND], hi: [...MAX_BOUND], ...wrong })) };
  // Sorted, non-overlapping, covering the whole key space: the stored attestations' times
  // spread over the last 30 days, so the middle ranges split it into RANGES slices of time.
  const nowS = Math.floor(Date.now() / 1000);
  const t0 = nowS - 31 * 86_400;
  const step = Math.ceil((31 * 86_400 + 3600) / (RANGES - 1));
  const bounds: Bound[] = [MIN_BOUND, ...Array.from({ length: RANGES - 1 }, (_, i): Bound => [t0 + i * step, '']), MAX_BOUND];
  return { type: 'reconcile', ranges: Array.from({ length: RANGES }, (_, i) => ({ lo: [...bounds[i]!], hi: [...bounds[i + 1]!], ...wrong })) };
}

async function syncAttack(a: SyncAttack): Promise<SyncResult> {
  const ma = multiaddr(a.addr);
  const victim = ma.getComponents().find((c) => c.name === 'p2p')!.value!;
  const body = new TextEncoder().encode(JSON.stringify(hostileRanges(a.variant)));
  const r: SyncResult = { served: 0, refused: 0, dialFailed: 0, peers: [], firstRefusalMs: null, disconnectedMs: null, requestBytes: body.length, replyBytes: 0, replyMs: [] };
  const t0 = performance.now();
  const end = t0 + a.seconds * 1000;
  let host = await attackHost(false);
  r.peers.push(host.peerId.toString());
  const watch = (h: Libp2p): void => {
    h.addEventListener('peer:disconnect', (e) => {
      if (e.detail.toString() === victim && r.disconnectedMs === null) r.disconnectedMs = performance.now() - t0;
    });
  };
  watch(host);
  const old: Libp2p[] = [];
  let rotating: Promise<void> | undefined;
  const rotate = async (): Promise<void> => {
    rotating ??= (async () => {
      old.push(host);
      host = await attackHost(false);
      watch(host);
      r.peers.push(host.peerId.toString());
    })().finally(() => {
      rotating = undefined;
    });
    await rotating;
  };
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      if (rotating) await rotating;
      const h = host;
      let stream;
      try {
        stream = await h.dialProtocol(ma, SYNC_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
      } catch {
        r.dialFailed++;
        if (a.rotate && h === host) await rotate();
        else await sleep(100);
        continue;
      }
      const s = performance.now();
      try {
        const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 });
        await lp.write(body, { signal: AbortSignal.timeout(30_000) });
        const res = await lp.read({ signal: AbortSignal.timeout(30_000) });
        r.replyMs.push(performance.now() - s);
        r.served++;
        r.replyBytes += res.byteLength;
        await stream.close().catch(() => undefined);
      } catch {
        r.refused++;
        r.firstRefusalMs ??= performance.now() - t0;
        stream.abort(new Error('refused'));
      }
    }
  };
  await Promise.all(Array.from({ length: a.streams }, () => worker()));
  await Promise.all([...old, host].map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
  return r;
}

interface FloodAttack { addr: string; keys: number; seconds: number; digest: string }
interface FloodResult { sent: number; bytes: number; failed: number; seconds: number; keysUsed: number; envelopeBytes: number; connectedAtEnd: boolean; victimSubscribedAtEnd: boolean }

async function floodAttack(a: FloodAttack): Promise<FloodResult> {
  const host = await attackHost(true);
  const ps = host.services.pubsub!;
  ps.subscribe(ATTESTATION_TOPIC);
  const ma = multiaddr(a.addr);
  const victim = ma.getComponents().find((c) => c.name === 'p2p')!.value!;
  await host.dial(ma);
  const deadline = Date.now() + 15_000;
  while (!ps.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === victim) && Date.now() < deadline) await sleep(50);
  const keys: TestIssuer[] = [];
  const r: FloodResult = { sent: 0, bytes: 0, failed: 0, seconds: 0, keysUsed: 0, envelopeBytes: 0, connectedAtEnd: false, victimSubscribedAtEnd: false };
  const t0 = performance.now();
  const end = t0 + a.seconds * 1000;
  let lastLog = t0;
  while (performance.now() < end) {
    const k = r.sent % a.keys;
    const issuer = (keys[k] ??= makeIssuer());
    const line = makeEnvelopeLine(issuer, { subjects: [a.digest], predicateType: BLOB_TYPE, fields: { blob: BLOB, n: r.sent } });
    const data = new TextEncoder().encode(line);
    r.envelopeBytes = data.length;
    try {
      await ps.publish(ATTESTATION_TOPIC, data);
      r.sent++;
      r.bytes += data.length;
    } catch {
      r.failed++;
    }
    // Paced at FLOOD_MSGS_PER_SECOND.
    const due = t0 + ((r.sent + r.failed) * 1000) / FLOOD_MSGS_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      log(`flood: sent ${fmt(r.sent)} (${fmt(r.bytes / 1e6)} MB)`);
    }
  }
  r.seconds = (performance.now() - t0) / 1000;
  r.keysUsed = keys.length;
  r.connectedAtEnd = host.getConnections().some((c) => c.remotePeer.toString() === victim);
  r.victimSubscribedAtEnd = ps.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === victim);
  await host.stop();
  return r;
}

async function attackerRole(): Promise<void> {
  serve({
    sync: (a: SyncAttack) => syncAttack(a),
    flood: (a: FloodAttack) => floodAttack(a),
    exit: async () => {
      setTimeout(() => process.exit(0), 50);
      return null;
    },
  });
  await new Promise(() => {});
}

// ---------------------------------------------------------------------------------------
// Orchestrator

const OVERRIDES = {
  'api.port': 0,
  'api.writeRateLimitPerMinute': 1_000_000,
  'net.listen': ['/ip4/127.0.0.1/tcp/0'],
  'net.mdns': false,
  'net.dht': false,
  'net.upnp': false,
  'net.autonat': false,
  'net.relay': 'off',
  'net.syncIntervalSeconds': 3600,
  'log.level': 'silent',
};

async function figureHotDigest(victim: Child, info: VictimInfo, rows: Row[]): Promise<void> {
  log(`figure 3: reputation of a digest with ${fmt(HOT)} untrusted attestations…`);
  const pid = victim.proc.pid!;
  const runs = QUICK ? 100 : 300;
  const get = async (digest: string): Promise<{ first: number; lat: number[]; bytes: number; status: number }> => {
    const first = await timedGet(`${info.url}/v1/models/${digest}/reputation`);
    const lat: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const r = await timedGet(`${info.url}/v1/models/${digest}/reputation`);
      lat.push(r.ms);
      bytes = r.bytes;
    }
    return { first: first.ms, lat: sorted(lat), bytes, status: first.status };
  };
  const base = await get(info.small);
  const hot = await get(info.hot);
  rows.push([
    `GET reputation, digest with ${fmt(HOT)} untrusted`,
    `p50 ${fmt(pct(hot.lat, 0.5), 1)} ms, p99 ${fmt(pct(hot.lat, 0.99), 1)} ms (first ${fmt(hot.first, 1)} ms), ${fmt(hot.bytes)} B`,
    `digest with 10: p50 ${fmt(pct(base.lat, 0.5), 1)} ms, p99 ${fmt(pct(base.lat, 0.99), 1)} ms, ${fmt(base.bytes)} B`,
    'p99 < 20 ms, < 64 KB',
    met(pct(hot.lat, 0.99) < 20 && hot.bytes < 64 * 1024 && hot.status === 200),
  ]);
  log(rows.at(-1)!.join(' | '));

  for (const evidence of [false, true]) {
    const body = JSON.stringify({ digests: Array.from({ length: 1000 }, () => `sha256:${info.hot}`), ...(evidence ? { evidence: true } : {}) });
    const before = await rssMB(pid);
    const sampler = rssSampler(pid, 20);
    const lat: number[] = [];
    let bytes = 0;
    let status = 0;
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const res = await fetch(`${info.url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      bytes = (await res.arrayBuffer()).byteLength;
      status = res.status;
      lat.push(performance.now() - s);
    }
    const peak = await sampler.stop();
    rows.push([
      `POST /v1/query, that digest x1,000${evidence ? ', evidence: true' : ''}`,
      `max ${fmt(Math.max(...lat))} ms (first ${fmt(lat[0]!)} ms), ${fmt(bytes / 1e6, 2)} MB answer, status ${status}; RSS +${fmt(peak - before)} MB`,
      `RSS before ${fmt(before)} MB`,
      '< 1 s, RSS growth < 100 MB',
      met(Math.max(...lat) < 1000 && peak - before < 100 && status === 200),
    ]);
    log(rows.at(-1)!.join(' | '));
  }
}

async function figureSync(victim: Child, attacker: Child, info: VictimInfo, rows: Row[]): Promise<void> {
  log(`figure 1: idle baseline, ${SYNC_SECONDS} s…`);
  await victim.call('elStart');
  let probe = healthProbe(info.url);
  await sleep(SYNC_SECONDS * 1000);
  const idle = await probe.stop();
  const idleEl = await victim.call<ElStats>('elStop');
  rows.push([
    `/healthz, idle, ${fmt(info.size)} stored`,
    `p50 ${fmt(pct(idle.lat, 0.5), 1)} ms, p99 ${fmt(pct(idle.lat, 0.99), 1)} ms (${fmt(idle.lat.length)} probes)`,
    `event-loop delay (10 ms timer, so idle reads ~10) p50 ${fmt(idleEl.p50, 1)} ms, p99 ${fmt(idleEl.p99, 1)} ms, max ${fmt(idleEl.max, 1)} ms`,
    '(baseline)',
    '',
  ]);
  log(rows.at(-1)!.join(' | '));

  const cost = await victim.call<{ cpuMs: number[]; answerMs: number[]; encodeMs: number[]; longestBlockMs: number; replyBytes: number }>('reconcileCost');
  const cpu = sorted(cost.cpuMs);
  rows.push([
    '  one legal 512-range request, alone',
    `CPU p50 ${fmt(pct(cpu, 0.5), 1)} ms, max ${fmt(cpu.at(-1)!, 1)} ms (answer p50 ${fmt(pct(sorted(cost.answerMs), 0.5), 1)} ms in 8 slices, encoding ${fmt(pct(sorted(cost.encodeMs), 0.5), 1)} ms in one); longest block ${fmt(cost.longestBlockMs, 1)} ms`,
    `reply ${fmt(cost.replyBytes / 1024)} KB, in this victim process, idle`,
    '< 50 ms loop time a request',
    met(cpu.at(-1)! < 50),
  ]);
  log(rows.at(-1)!.join(' | '));

  const phases: { name: string; variant: 'overlap' | 'heavy'; rotate: boolean; seconds: number }[] = [
    { name: `512 overlapping whole-set ranges, 2 streams, one peer id`, variant: 'overlap', rotate: false, seconds: QUICK ? 3 : 5 },
    { name: `512 legal ranges over the key space, 2 streams, one peer id`, variant: 'heavy', rotate: false, seconds: SYNC_SECONDS },
    { name: `512 legal ranges, 2 streams, fresh peer id when blocked`, variant: 'heavy', rotate: true, seconds: SYNC_SECONDS },
  ];
  for (const ph of phases) {
    log(`figure 1: ${ph.name}, ${ph.seconds} s…`);
    const abusesBefore = await victim.call<Record<string, number>>('abuses');
    await victim.call('elStart');
    probe = healthProbe(info.url);
    const r = await attacker.call<SyncResult>('sync', { addr: info.addr, variant: ph.variant, streams: 2, seconds: ph.seconds, rotate: ph.rotate } satisfies SyncAttack);
    const h = await probe.stop();
    const el = await victim.call<ElStats>('elStop');
    const abusesAfter = await victim.call<Record<string, number>>('abuses');
    const blocked = await victim.call<number>('blocked', { peers: r.peers });
    const connected = await victim.call<number>('connected', { peers: r.peers });
    const abuseDelta = Object.entries(abusesAfter).map(([k, v]) => [k, v - (abusesBefore[k] ?? 0)] as const).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
    const reply = sorted(r.replyMs);
    const perServedCpu = r.served > 0 ? el.cpuMs / r.served : NaN;
    rows.push([
      `hostile sync: ${ph.name}`,
      `/healthz p50 ${fmt(pct(h.lat, 0.5), 1)} ms, p99 ${fmt(pct(h.lat, 0.99), 1)} ms, max ${fmt(h.lat.at(-1) ?? NaN, 1)} ms${h.failed ? `, ${h.failed} failed` : ''}; event loop delay p99 ${fmt(el.p99, 1)} ms, max ${fmt(el.max, 1)} ms`,
      `idle: /healthz p99 ${fmt(pct(idle.lat, 0.99), 1)} ms, loop delay max ${fmt(idleEl.max, 1)} ms`,
      '/healthz p99 < 20 ms; < 50 ms loop time a request',
      met(pct(h.lat, 0.99) < 20 && el.max < 50),
    ]);
    rows.push([
      '  requests',
      `served ${fmt(r.served)}, refused ${fmt(r.refused)}, dials refused ${fmt(r.dialFailed)}; peer ids used ${r.peers.length}, blocked now ${blocked}, still connected ${connected}`,
      `victim saw: ${abuseDelta || 'no abuse'}; first refusal ${r.firstRefusalMs === null ? '-' : `${fmt(r.firstRefusalMs)} ms`}, first disconnect ${r.disconnectedMs === null ? '-' : `${fmt(r.disconnectedMs)} ms`}`,
      'abusive peer disconnected',
      ph.variant === 'overlap' ? met(r.served === 0 && r.disconnectedMs !== null) : '',
    ]);
    rows.push([
      '  victim cost',
      `CPU ${fmt(el.cpuMs)} ms in ${fmt(el.wallMs / 1000, 1)} s (${fmt((el.cpuMs / el.wallMs) * 100)}% of a core)${r.served ? `, ${fmt(perServedCpu, 1)} ms CPU per served request` : ''}`,
      `request ${fmt(r.requestBytes)} B${r.served ? `; reply ${fmt(r.replyBytes / r.served / 1024)} KB, p50 ${fmt(pct(reply, 0.5))} ms, p99 ${fmt(pct(reply, 0.99))} ms` : ''}`,
      '',
      '',
    ]);
    for (const row of rows.slice(-3)) log(row.join(' | '));
  }
}

async function figureFlood(root: string, rows: Row[]): Promise<void> {
  log(`figure 2: Sybil flood, ${fmt(SYBILS)} keys for ${FLOOD_SECONDS} s at a victim with a ${fmt(POOL_BYTES / 2 ** 20)} MiB stranger pool…`);
  const honestIssuer = makeIssuer();
  const victim = Child.spawn('victim');
  const attacker = Child.spawn('attacker');
  let honest: { node: LocalNode; net: Network } | undefined;
  try {
    const info = await victim.call<VictimInfo>('setup', { dir: join(root, 'victim2'), fill: false, trust: [honestIssuer.did], overrides: { ...OVERRIDES, 'limits.strangerPoolBytes': POOL_BYTES } } satisfies VictimSetup);
    const pid = victim.proc.pid!;
    // The honest node: another node, bootstrapped to the victim, publishing as a trusted issuer.
    const home = resolveHome({}, join(root, 'honest'));
    await initHome(home);
    const node = await LocalNode.open(home, { env: {}, overrides: { ...OVERRIDES, 'net.bootstrap': [info.addr] } });
    honest = { node, net: await Network.start(node, silent) };
    const ps = honest.net.host.services.pubsub;
    const deadline = Date.now() + 20_000;
    while (!ps.getSubscribers(ATTESTATION_TOPIC).some((p) => p.toString() === info.peerId) && Date.now() < deadline) await sleep(50);
    await sleep(1500); // a heartbeat or so: the mesh forms

    // The trusted verdict, before the flood.
    const digest = randomDigest();
    const verdictOf = async (): Promise<string> => {
      const v = (await (await fetch(`${info.url}/v1/models/${digest}/reputation?lookup=false`)).json()) as { status: string; byPredicate: Record<string, { summary: string; counted: number; total: number }> };
      return `${v.status} (audit ${v.byPredicate['audit']?.summary ?? '-'}, ${v.byPredicate['audit']?.counted ?? 0} counted)`;
    };
    const d0 = await honest.node.ingestor.ingest(makeEnvelopeLine(honestIssuer, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail' }) }));
    const has = async (id: string): Promise<boolean> => (await fetch(`${info.url}/v1/attestations/${id}`)).status === 200;
    const until = Date.now() + 10_000;
    while (d0.outcome === 'accept' && !(await has(d0.id)) && Date.now() < until) await sleep(50);
    const verdictBefore = await verdictOf();
    log(`trusted verdict before: ${verdictBefore}`);

    const rssBefore = await rssMB(pid);
    const sampler = rssSampler(pid, 250);
    const flood = attacker.call<FloodResult>('flood', { addr: info.addr, keys: SYBILS, seconds: FLOOD_SECONDS, digest } satisfies FloodAttack);
    const published: string[] = [];
    const honestLatency: number[] = [];
    let floodDone = false;
    void flood.finally(() => {
      floodDone = true;
    });
    const watchers: Promise<void>[] = [];
    let lastLog = Date.now();
    let maxUsed = 0;
    let i = 0;
    while (!floodDone) {
      const t = performance.now();
      const d = await honest.node.ingestor.ingest(makeEnvelopeLine(honestIssuer, { subjects: [randomDigest()], fields: exampleFields('audit', { metrics: { honest: i++ } }) }));
      if (d.outcome === 'accept') {
        published.push(d.id);
        // Arrival time at the victim, polled (bounded: 30 s).
        watchers.push((async () => {
          const stop = Date.now() + 30_000;
          while (Date.now() < stop) {
            if (await has(d.id).catch(() => false)) {
              honestLatency.push(performance.now() - t);
              return;
            }
            await sleep(100);
          }
        })());
      }
      const pool = await victim.call<{ used: number; budget: number; size: number }>('pool');
      maxUsed = Math.max(maxUsed, pool.used);
      if (Date.now() - lastLog > (QUICK ? 10_000 : 30_000)) {
        lastLog = Date.now();
        log(`flood: pool ${fmt(pool.used / 2 ** 20, 1)} / ${fmt(pool.budget / 2 ** 20)} MiB, victim stores ${fmt(pool.size)}, RSS ${fmt(sampler.max())} MB max, honest published ${published.length}`);
      }
      await sleep(Math.max(0, 1000 - (performance.now() - t)));
    }
    const f = await flood;
    await Promise.all(watchers);
    const arrived = honestLatency.length;
    const rssMax = await sampler.stop();
    const pool = await victim.call<{ used: number; budget: number; size: number }>('pool');
    maxUsed = Math.max(maxUsed, pool.used);
    const verdictAfter = await verdictOf();
    const g = await victim.call<{ from: Record<string, Record<string, number>>; codes: Record<string, number> }>('gossip');
    const ours = new Set([honest.net.peerId]);
    const fromAttacker = Object.entries(g.from).filter(([p]) => !ours.has(p)).map(([, c]) => c);
    const sum = (k: string): number => fromAttacker.reduce((a, c) => a + (c[k] ?? 0), 0);
    const hl = sorted(honestLatency);
    rows.push([
      `Sybil flood: ${fmt(f.keysUsed)} keys, ${fmt(f.envelopeBytes / 1024)} KB envelopes, ${fmt(f.seconds)} s`,
      `pool ${fmt(pool.used / 2 ** 20, 1)} MiB at the end, max ${fmt(maxUsed / 2 ** 20, 1)} MiB (${fmt((maxUsed / pool.budget) * 100, 1)}% of budget); victim stores ${fmt(pool.size)}`,
      `budget ${fmt(pool.budget / 2 ** 20)} MiB`,
      'within budget ± 5% (and reached)',
      maxUsed < pool.budget * 0.95 ? 'budget not reached' : met(maxUsed <= pool.budget * 1.05),
    ]);
    rows.push([
      '  flood rate',
      `attacker sent ${fmt(f.sent)} (${fmt(f.sent / f.seconds, 1)}/s, ${fmt(f.bytes / f.seconds / 2 ** 20, 2)} MiB/s); victim validated ${fmt(sum('accept'))} accept, ${fmt(sum('ignore'))} ignore, ${fmt(sum('reject'))} reject (${fmt(sum('accept') / f.seconds, 1)}/s accepted)`,
      `victim ingest codes: ${Object.entries(g.codes).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; attacker at the end: ${f.connectedAtEnd ? 'connected' : 'disconnected'}, victim ${f.victimSubscribedAtEnd ? '' : 'not '}subscribed`,
      'per-peer limit 200 msg/s, 1 MiB/s',
      '',
    ]);
    rows.push([
      '  honest attestations during the flood',
      `${fmt(arrived)} / ${fmt(published.length)} arrived; latency p50 ${fmt(pct(hl, 0.5))} ms, p99 ${fmt(pct(hl, 0.99))} ms`,
      'published 1/s by a trusted issuer on another node',
      'all arrive',
      met(arrived === published.length && published.length > 0),
    ]);
    rows.push([
      '  victim RSS',
      `max ${fmt(rssMax)} MB`,
      `before the flood ${fmt(rssBefore)} MB`,
      '< 400 MB',
      met(rssMax < 400),
    ]);
    rows.push([
      '  trusted verdict',
      `after: ${verdictAfter}`,
      `before: ${verdictBefore}`,
      'unchanged',
      met(verdictAfter === verdictBefore),
    ]);
    for (const row of rows.slice(-5)) log(row.join(' | '));
  } finally {
    if (honest) {
      await honest.net.stop().catch(() => undefined);
      await honest.node.close().catch(() => undefined);
    }
    await attacker.stop();
    await victim.stop();
  }
}

/** `--only round1,net,sse,churn,disk,admission,cookie`: run only those groups of figures (default: all). */
const ONLY = arg('--only')?.split(',');
const want = (group: string): boolean => ONLY === undefined || ONLY.includes(group);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'chorus-bench-attack-'));
  const rows: Row[] = [];
  const t0 = performance.now();
  try {
    if (want('round1')) {
      // Figures 1 and 3: one victim holding STORED attestations.
      const victim = Child.spawn('victim');
      const attacker = Child.spawn('attacker');
      try {
        log(`victim: signing and storing ${fmt(STORED)} attestations (${fmt(HOT)} about one digest) from ${fmt(STRANGERS)} issuers…`);
        const info = await victim.call<VictimInfo>('setup', { dir: join(root, 'victim1'), fill: true, trust: [], overrides: OVERRIDES } satisfies VictimSetup);
        log(`victim up: ${fmt(info.size)} stored in ${fmt(info.fillSeconds, 1)} s, RSS ${fmt(await rssMB(victim.proc.pid!))} MB`);
        await figureHotDigest(victim, info, rows);
        await figureSync(victim, attacker, info, rows);
      } finally {
        await attacker.stop();
        await victim.stop();
      }
      await figureFlood(root, rows);
    }
    // Round two (issue 20): each module runs its own victim.
    if (want('net')) await figuresNet(root, rows);
    if (want('sse')) await figureSse(root, rows);
    if (want('churn')) await figureChurn(root, rows);
    if (want('disk')) await figureDiskFull(root, rows);
    if (want('admission')) await figureAdmission(root, rows);
    if (want('cookie')) await figureCookie(root, rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(`\nbench:attack${QUICK ? ' (quick)' : ''} — victim and attacker in their own processes, loopback; ${fmt((performance.now() - t0) / 1000)} s`);
  console.log(table(['figure', 'measured', 'baseline (same run)', 'goal', ''], rows, { rule: true }));
}

if (ROLE === 'victim') await victimRole();
else if (ROLE === 'attacker') await attackerRole();
else await main();
