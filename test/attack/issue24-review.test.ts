import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { VerifyPool } from '../../node/crypto/verify-pool.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { writePolicy } from '../../node/home/trust-list.js';
import { LocalNode, type CompletenessSource } from '../../node/local/local-node.js';
import { viewSummary } from '../../node/local/served-view.js';
import { ViewCache } from '../../node/local/view-cache.js';
import { NodeService } from '../../node/service/node-service.js';
import { SCOPES, TrustParams, TrustPolicyFile, type Scope, type TrustPolicy } from '../../src/reputation/policy.js';
import { TrustGraph, type EndorsementInput, type ScopedTrust, type TrustHop } from '../../src/reputation/trust-graph.js';
import type { ReputationView } from '../../src/reputation/view-schema.js';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { prng } from '../support/prng.js';
import { startTestDaemon } from '../support/test-daemon.js';
import { tempDir } from '../support/temp-dir.js';

/*
 * Review of issue 24's latest changes (signature workers, kept views served as bytes, the
 * view cache following the trust graph, the restructured trust-graph computation): each
 * test asserts what a user would see if one of them were wrong.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const POOL_SOURCE = pathToFileURL(join(REPO, 'node/crypto/verify-pool.ts')).href;

// ---------------------------------------------------------------------------------------
// 1. The trust graph: the restructured compute against the previous one (3855d9c), inlined.
// ---------------------------------------------------------------------------------------

/** TrustGraph.compute as of 3855d9c (per-pair supersession, one adjacency built per scope). */
function oldCompute(policy: TrustPolicy, endorsements: Iterable<EndorsementInput>, now: number): { byScope: Map<Scope, Map<string, ScopedTrust>>; blocked: Set<string>; edges: number } {
  const blocked = new Set(policy.blocks.map((block) => block.issuer));
  const newest = new Map<string, EndorsementInput>();
  for (const endorsement of endorsements) {
    const key = `${endorsement.endorser} ${endorsement.endorsed}`;
    const cur = newest.get(key);
    if (cur === undefined || endorsement.issuedAt > cur.issuedAt || (endorsement.issuedAt === cur.issuedAt && endorsement.id > cur.id)) newest.set(key, endorsement);
  }
  const live = [...newest.values()].filter((endorsement) =>
    !endorsement.retracted && (endorsement.expiresAt === undefined || endorsement.expiresAt > now) && endorsement.weight > 0
    && endorsement.endorser !== endorsement.endorsed && !blocked.has(endorsement.endorser) && !blocked.has(endorsement.endorsed));
  const byScope = new Map<Scope, Map<string, ScopedTrust>>();
  for (const scope of SCOPES) byScope.set(scope, oldSpread(policy, live.filter((endorsement) => endorsement.scope.includes('*') || endorsement.scope.includes(scope)), scope, blocked));
  return { byScope, blocked, edges: live.length };
}

function oldSpread(policy: TrustPolicy, edges: readonly EndorsementInput[], scope: Scope, blocked: ReadonlySet<string>): Map<string, ScopedTrust> {
  const spreadShare = policy.params.spread;
  const out = new Map<string, ScopedTrust>();
  const adj = new Map<string, EndorsementInput[]>();
  for (const edge of edges) {
    let list = adj.get(edge.endorser);
    if (!list) adj.set(edge.endorser, (list = []));
    list.push(edge);
  }
  const level = new Map<string, number>();
  const roots = new Set<string>();
  const energy = new Map<string, number>();
  const best = new Map<string, { from: string; edge: EndorsementInput; amount: number }>();
  let layer: { issuer: string; out: number }[] = [];
  for (const root of policy.roots) {
    if (blocked.has(root.issuer) || !(root.scope.includes('*') || root.scope.includes(scope))) continue;
    level.set(root.issuer, 0);
    roots.add(root.issuer);
    out.set(root.issuer, { trust: root.weight, via: 'root', path: [] });
    layer.push({ issuer: root.issuer, out: spreadShare * root.weight });
  }
  const subscribed = new Set<string>();
  for (const subscription of policy.subscriptions) {
    if (blocked.has(subscription.issuer) || level.has(subscription.issuer)) continue;
    subscribed.add(subscription.issuer);
    layer.push({ issuer: subscription.issuer, out: subscription.weight });
  }
  for (let k = 0; k < policy.params.maxDepth && layer.length > 0; k++) {
    const next = new Set<string>();
    for (const { issuer, out: amount } of layer) {
      const list = adj.get(issuer);
      if (!list || amount <= 0) continue;
      const norm = Math.max(1, list.reduce((sum, edge) => sum + edge.weight, 0));
      for (const edge of list) {
        const lv = level.get(edge.endorsed);
        if (lv !== undefined && lv !== k + 1) continue;
        if (lv === undefined && subscribed.has(edge.endorsed) && !roots.has(issuer)) continue;
        level.set(edge.endorsed, k + 1);
        const share = (amount * edge.weight) / norm;
        energy.set(edge.endorsed, (energy.get(edge.endorsed) ?? 0) + share);
        const prev = best.get(edge.endorsed);
        if (prev === undefined || share > prev.amount) best.set(edge.endorsed, { from: issuer, edge, amount: share });
        next.add(edge.endorsed);
      }
    }
    layer = [...next].map((issuer) => ({ issuer, out: spreadShare * (energy.get(issuer) as number) }));
  }
  const pathTo = (issuer: string): TrustHop[] => {
    const hops: TrustHop[] = [];
    let cur = issuer;
    for (let guard = 0; guard <= policy.params.maxDepth; guard++) {
      const prev = best.get(cur);
      if (prev === undefined) break;
      hops.unshift({ from: prev.from, to: cur, endorsement: prev.edge.id, weight: prev.edge.weight });
      cur = prev.from;
    }
    return hops;
  };
  for (const [issuer, amount] of energy) out.set(issuer, { trust: (1 - spreadShare) * amount, via: 'endorsed', path: pathTo(issuer) });
  return out;
}

/** Everything the old graph answers, in the shape the TrustGraph answers it. */
function oldAnswers(policy: TrustPolicy, edges: readonly EndorsementInput[], now: number, universe: readonly string[]) {
  const { byScope, blocked, edges: live } = oldCompute(policy, edges, now);
  const trust = (issuer: string, scope: Scope): ScopedTrust => (blocked.has(issuer) ? { trust: 0, via: 'blocked', path: [] } : byScope.get(scope)?.get(issuer) ?? { trust: 0, via: 'endorsed', path: [] });
  const reached = new Map<string, Partial<Record<Scope, number>>>();
  for (const [scope, m] of byScope) {
    for (const [issuer, scoped] of m) {
      if (scoped.trust <= 0) continue;
      let t = reached.get(issuer);
      if (!t) reached.set(issuer, (t = {}));
      t[scope] = scoped.trust;
    }
  }
  let reachedCount = 0;
  for (const t of reached.values()) if (Object.values(t).some((w) => w >= policy.params.minWeight)) reachedCount++;
  const counts = (issuer: string): boolean => !blocked.has(issuer) && [...byScope.values()].some((m) => (m.get(issuer)?.trust ?? 0) >= policy.params.minWeight);
  const counting = new Set<string>();
  for (const m of byScope.values()) for (const [issuer, s] of m) if (s.trust >= policy.params.minWeight) counting.add(issuer);
  return {
    table: universe.map((issuer) => SCOPES.map((scope) => trust(issuer, scope))),
    counts: universe.map(counts),
    counting: [...counting].sort(),
    reached: [...reached].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    reachedCount,
    edges: live,
  };
}

function newAnswers(policy: TrustPolicy, edges: readonly EndorsementInput[], now: number, universe: readonly string[]): ReturnType<typeof oldAnswers> {
  const g = TrustGraph.compute(policy, edges, now);
  return {
    table: universe.map((issuer) => SCOPES.map((scope) => g.trust(issuer, scope))),
    counts: universe.map((i) => g.counts(i)),
    counting: [...g.counting()].sort(),
    reached: [...g.reached()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    reachedCount: g.reachedCount,
    edges: g.edges,
  };
}

/** A random policy and endorsement set over a small population, drawn from `r`. */
function randomCase(r: () => number, big = false): { policy: TrustPolicy; edges: EndorsementInput[]; now: number; universe: string[] } {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = big ? 300 : 2 + Math.floor(r() * 24);
  const universe = Array.from({ length: n }, (_, i) => `did:key:z6Mk${i.toString(36)}x`);
  const now = 1_700_000_000_000;
  const scopeList = (): string[] => {
    const x = r();
    if (x < 0.25) return ['*'];
    const kinds = SCOPES.filter(() => r() < 0.3);
    if (kinds.length === 0) kinds.push(pick(SCOPES));
    if (x < 0.35) return [...kinds, '*'];
    if (x < 0.4) return [...kinds, 'unknown-kind'];
    return kinds;
  };
  // Valid policies mostly (an issuer in one place once); sometimes duplicates, which compute accepts too.
  const loose = r() < 0.15;
  const free = [...universe].sort(() => r() - 0.5);
  const take = (): string => (loose ? pick(universe) : free.pop() ?? pick(universe));
  const roots = Array.from({ length: Math.floor(r() * (big ? 8 : 4)) }, () => ({
    issuer: take(), scope: (r() < 0.4 ? ['*'] : scopeList().filter((s) => s !== 'unknown-kind')) as TrustPolicy['roots'][number]['scope'],
    weight: pick([1, 0.5, 0.3, r() || 0.1]),
  }));
  const blocks = Array.from({ length: Math.floor(r() * 3) }, () => ({ issuer: take() }));
  const subscriptions = Array.from({ length: Math.floor(r() * 3) }, () => ({ issuer: take(), weight: pick([0.5, 1, r() || 0.2]) }));
  const params = TrustParams.parse({ maxDepth: Math.floor(r() * 7), spread: pick([0.5, 0.1, 0.9, 0.05 + r() * 0.9]), minWeight: pick([0.005, 0, 0.05, r() * 0.2]) });
  const policy = { version: 2, roots, blocks, subscriptions, params } as unknown as TrustPolicy;
  const m = big ? 3000 : Math.floor(r() * 90);
  const edges: EndorsementInput[] = [];
  for (let i = 0; i < m; i++) {
    const endorser = pick(universe);
    const endorsed = r() < 0.05 ? endorser : pick(universe);
    const e = r();
    edges.push({
      id: `e${Math.floor(r() * (big ? 5000 : 40)).toString().padStart(4, '0')}`,
      endorser,
      endorsed,
      scope: scopeList(),
      weight: pick([0, 1, 0.5, Math.round(r() * 100) / 100, r()]),
      issuedAt: pick([now - 3000, now - 2000, now - 1000, now - Math.floor(r() * 1e6)]),
      expiresAt: e < 0.6 ? undefined : e < 0.7 ? now : e < 0.8 ? now - 1 : now + 1 + Math.floor(r() * 1e6),
      retracted: r() < 0.1,
    });
  }
  return { policy, edges, now, universe: [...universe, 'did:key:z6Mkunknown'] };
}

describe('trust graph: the restructured compute gives the old results', () => {
  it('for 3,000 random graphs (scopes, *, subscriptions, blocks, scoped roots, supersession ties, expiry at now, retractions, zero weights, self-endorsements): the same trust, via and path per issuer and kind, the same counts, reach and edges', () => {
    const r = prng(0x24_7e57);
    for (let c = 0; c < 3000; c++) {
      const { policy, edges, now, universe } = randomCase(r);
      const want = oldAnswers(policy, edges, now, universe);
      const got = newAnswers(policy, edges, now, universe);
      // Exact: the same arithmetic in the same order must give the same floats.
      if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `case ${c}`).toStrictEqual(want);
    }
  });

  it('for large graphs (300 issuers, 3,000 endorsements, depth up to 6)', () => {
    const r = prng(0xb16);
    for (let c = 0; c < 6; c++) {
      const { policy, edges, now, universe } = randomCase(r, true);
      expect(newAnswers(policy, edges, now, universe), `case ${c}`).toStrictEqual(oldAnswers(policy, edges, now, universe));
    }
  });

  it('kinds no endorsement names share a result only when their roots agree: a root scoped to one such kind trusts in that kind alone', () => {
    const [a, b, c] = ['did:key:z6MkA', 'did:key:z6MkB', 'did:key:z6MkC'];
    const policy = TrustPolicyFile.parse({ version: 2 });
    const p = { ...policy, roots: [{ issuer: a, scope: ['license'], weight: 1 }, { issuer: b, scope: ['*'], weight: 1 }] } as TrustPolicy;
    const edges: EndorsementInput[] = [{ id: 'x', endorser: b, endorsed: c, scope: ['*'], weight: 1, issuedAt: 1, expiresAt: undefined, retracted: false }];
    const g = TrustGraph.compute(p, edges, 10);
    expect(g.trust(a, 'license').trust).toBe(1);
    expect(g.trust(a, 'payload').trust).toBe(0);
    expect(g.trust(c, 'payload').trust).toBeCloseTo(0.25);
    expect(g.trust(c, 'license').trust).toBeCloseTo(0.25);
  });
});

// ---------------------------------------------------------------------------------------
// 2. Signature checks on worker threads.
// ---------------------------------------------------------------------------------------

const keys = Array.from({ length: 3 }, () => generateKeyPairSync('ed25519'));
const rawOf = (k: (typeof keys)[number]): Uint8Array => new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
const raws = keys.map(rawOf);

interface Case { sig: Uint8Array; msg: Uint8Array; key: Uint8Array; valid: boolean }

/** Random checks: lengths 0 to 64 KiB, each valid or broken one way (sig, message, key). */
function randomChecks(r: () => number, n: number): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const x = r();
    const len = x < 0.2 ? 0 : x < 0.3 ? 65_536 : x < 0.35 ? 65_535 : x < 0.4 ? 1 : Math.floor(r() * 3000);
    const msg = new Uint8Array(len);
    for (let j = 0; j < Math.min(len, 64); j++) msg[j] = Math.floor(r() * 256);
    if (len > 8) new DataView(msg.buffer).setUint32(len - 8, i); // distinct messages
    const k = Math.floor(r() * keys.length);
    // A view into a bigger buffer now and then (as a decoded envelope's fields are).
    const sigBytes = new Uint8Array(sign(null, msg, keys[k]!.privateKey));
    const padded = Buffer.concat([Buffer.alloc(7), sigBytes, Buffer.alloc(5)]);
    const sig = r() < 0.3 ? new Uint8Array(padded.buffer, padded.byteOffset + 7, 64) : sigBytes;
    const y = r();
    if (y < 0.5) return { sig, msg, key: raws[k]!, valid: true };
    if (y < 0.7) {
      const bad = sig.slice();
      bad[Math.floor(r() * 32)]! ^= 1 << Math.floor(r() * 8); // R half: still canonical
      return { sig: bad, msg, key: raws[k]!, valid: false };
    }
    if (y < 0.85 && len > 0) {
      const changed = msg.slice();
      changed[Math.floor(r() * len)]! ^= 1;
      return { sig, msg: changed, key: raws[k]!, valid: false };
    }
    return { sig, msg, key: raws[(k + 1) % keys.length]!, valid: false };
  });
}

type Lanes = ({ worker: Worker; pending: Map<number, unknown>; load: number } | undefined)[];
const lanesOf = (pool: VerifyPool): Lanes => (pool as unknown as { lanes: Lanes }).lanes;

/**
 * Runs `script` (an ES module, written to a temp file outside the repo: not `-e`, whose
 * `--input-type=module` the eval'd workers would inherit) in a child Node that strips
 * TypeScript; `args` from process.argv[2] on.
 */
async function runChild(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; err: string; killed: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-rev24-child-'));
  const file = join(dir, 'child.mjs');
  await writeFile(file, script);
  try {
    return await new Promise((resolve) => {
      execFile(process.execPath, ['--experimental-transform-types', '--no-warnings', file, ...args], { timeout: timeoutMs, cwd: REPO }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out: stdout, err: stderr, killed: error?.killed === true });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CHILD_PRELUDE = `
import { generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
const PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
let fallbacks = 0;
const here = (s, m, k) => { fallbacks++; try { return verify(null, m, createPublicKey({ key: Buffer.concat([PREFIX, k]), format: 'der', type: 'spki' }), s); } catch { return false; } };
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
`;

describe('signature checks on worker threads: verdicts, crashes, process lifetime', () => {
  it('every verdict lands on its own check: waves of 1, 63, 64, 65, 129 and 700 checks, messages of 0 bytes to 64 KiB, some overlapping, on 1 and 3 workers', async () => {
    const r = prng(0x5167);
    const check = nativeSuite().verify;
    let here = 0;
    for (const workers of [1, 3]) {
      const pool = new VerifyPool((sig, msg, key) => {
        here++;
        return check(sig, msg, key);
      }, workers);
      try {
        const waves = [1, 63, 64, 65, 129, 700, 2].map((n) => randomChecks(r, n));
        const results: Promise<boolean[]>[] = [];
        for (const [w, wave] of waves.entries()) {
          results.push(Promise.all(wave.map((c) => pool.verify(c.sig, c.msg, c.key))));
          // Some waves sent in the same turn (one flush), some while earlier batches are in the workers.
          if (w % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
        }
        const verdicts = await Promise.all(results);
        verdicts.forEach((v, w) => expect(v, `${workers} workers, wave ${w}`).toEqual(waves[w]!.map((c) => c.valid)));
        // Checked on the workers: none failed and left its checks to this thread.
        expect(here).toBe(0);
      } finally {
        await pool.close();
      }
    }
  });

  it('the node suite (precheck, then the pool) gives the main thread\'s verdict for the same random checks', async () => {
    const suite = nativeSuite();
    const checks = randomChecks(prng(0xabc), 400);
    expect(await Promise.all(checks.map((c) => suite.verifyAsync!(c.sig, c.msg, c.key)))).toEqual(checks.map((c) => suite.verify(c.sig, c.msg, c.key)));
  });

  it('a worker that crashes with batches in hand (an exception in it, or its thread stopped): each of them answered here with the right verdict, and the pool keeps working', async () => {
    let here = 0;
    const check = nativeSuite().verify;
    const pool = new VerifyPool((s, m, k) => {
      here++;
      return check(s, m, k);
    }, 2);
    try {
      const r = prng(0xc4a5);
      const warm = randomChecks(r, 2);
      expect(await Promise.all(warm.map((c) => pool.verify(c.sig, c.msg, c.key)))).toEqual(warm.map((c) => c.valid));
      const lanes = lanesOf(pool);
      expect(lanes.filter(Boolean)).toHaveLength(2);
      // Lane 0's worker will throw (a truncated batch) before it reaches what is sent next.
      lanes[0]!.worker.postMessage({ id: -1, count: 1, buf: new ArrayBuffer(10) });
      const checks = randomChecks(r, 500);
      const pending = checks.map((c) => pool.verify(c.sig, c.msg, c.key));
      await Promise.resolve();
      // Lane 1's worker is stopped with its batches in hand.
      void lanes[1]!.worker.terminate();
      expect(await Promise.all(pending)).toEqual(checks.map((c) => c.valid));
      expect(here).toBeGreaterThan(0);
      // New workers take over.
      const after = randomChecks(r, 200);
      const before = here;
      expect(await Promise.all(after.map((c) => pool.verify(c.sig, c.msg, c.key)))).toEqual(after.map((c) => c.valid));
      expect(here).toBe(before);
    } finally {
      await pool.close();
    }
  });

  it('a process that checked signatures exits by itself when done (the workers do not keep it alive), and not before its checks are answered', async () => {
    const script = `${CHILD_PRELUDE}
const { VerifyPool } = await import(process.argv[2]);
const pool = new VerifyPool(here, 2);
const checks = Array.from({ length: 1500 }, (_, i) => {
  const msg = Buffer.alloc(i % 7 === 0 ? 0 : 200 + (i % 50), i % 256);
  const sig = sign(null, msg, privateKey);
  if (i % 2) sig[3] ^= 1;
  return { msg, sig };
});
// Nothing else holds the event loop: only the pending checks do.
const verdicts = await Promise.all(checks.map((c) => pool.verify(c.sig, c.msg, raw)));
console.log('valid', verdicts.filter(Boolean).length, 'of', verdicts.length, 'checked here', fallbacks);
`;
    const res = await runChild(script, [POOL_SOURCE], 20_000);
    expect(res.killed, `kept alive: ${res.err}`).toBe(false);
    expect(res.code, res.err).toBe(0);
    // All on the workers (none failed and fell back to this thread).
    expect(res.out.trim()).toBe('valid 750 of 1500 checked here 0');
  });

  it('a worker thread that cannot be started (ERR_WORKER_INIT_FAILED: thread or pid limit reached) has its checks answered here, instead of the process crashing', async () => {
    // new Worker throws synchronously when the OS refuses a thread (reproduced for real with
    // `prlimit --nproc=7` as an unprivileged user): here it is made to throw that way.
    const script = `
import { createRequire, syncBuiltinESMExports } from 'node:module';
${CHILD_PRELUDE}
const require = createRequire(import.meta.url);
require('node:worker_threads').Worker = class { constructor() { throw Object.assign(new Error('EAGAIN'), { code: 'ERR_WORKER_INIT_FAILED' }); } };
syncBuiltinESMExports();
const { VerifyPool } = await import(process.argv[2]);
const pool = new VerifyPool(here, 2);
const msg = Buffer.from('statement');
const sig = sign(null, msg, privateKey);
const out = await Promise.all([pool.verify(sig, msg, raw), pool.verify(sig, Buffer.from('other'), raw), pool.verify(sig, msg, raw)]);
console.log('verdicts', out.join(' '));
`;
    const res = await runChild(script, [POOL_SOURCE], 10_000);
    expect(res.code, res.err).toBe(0);
    expect(res.out.trim()).toBe('verdicts true false true');
  });
});

// ---------------------------------------------------------------------------------------
// 3. Kept views served as bytes, and the view cache following the trust graph.
// ---------------------------------------------------------------------------------------

/** A clock that starts a second into the current minute and moves only when told. */
function testClock(): { now: () => number; advance(ms: number): void; at(ms: number): void } {
  let t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
  return { now: () => t, advance: (ms) => void (t += ms), at: (ms) => void (t = ms) };
}

async function withNode<T>(policy: unknown, now: () => number, fn: (node: LocalNode) => Promise<T>, overrides: Record<string, unknown> = {}): Promise<T> {
  await using dir = await tempDir('chorus-rev24-');
  const home = resolveHome({}, dir.path);
  await initHome(home);
  await writePolicy(home.trust, TrustPolicyFile.parse(policy));
  const node = await LocalNode.open(home, { env: {}, now, overrides: { 'trust.includeSelf': false, ...overrides } });
  try {
    return await fn(node);
  } finally {
    await node.close();
  }
}

async function accept(node: LocalNode, line: string): Promise<void> {
  const d = await node.ingestor.ingest(line);
  if (d.outcome !== 'accept') throw new Error(`not accepted: ${d.code} ${d.message}`);
}

const endorse = (by: TestIssuer, who: TestIssuer, scope: string[] = ['*']) =>
  makeEnvelopeLine(by, { kind: 'endorsement', subjects: [endorsementSubject(who.did)], fields: { endorsed: who.did, scope, weight: 1 } });
const audit = (by: TestIssuer, digest: string, verdict: string, issuedAt = new Date(Date.now() - 60_000)) =>
  makeEnvelopeLine(by, { subjects: [digest], fields: exampleFields('audit', { verdict, summary: verdict }), issuedAt });

/** A view without the moment it was made (a kept view keeps its own). */
function bare(v: unknown): unknown {
  const { asOf: _asOf, ...rest } = v as ReputationView;
  return rest;
}

/**
 * What the service answers for `digest` as bytes (GET …/reputation and POST /v1/query as the
 * routes join them), checked against a view computed afresh (not kept: `now` given).
 */
async function answersMatchFresh(node: LocalNode, svc: NodeService, digest: string, now: number, label: string): Promise<ReputationView> {
  const fresh = JSON.parse(JSON.stringify(await node.view(digest, { now }))) as ReputationView;
  const answer = await svc.viewAnswer(digest, { local: false });
  expect(answer.json, `${label}: a kept view is served as bytes`).toBeDefined();
  const served = JSON.parse(answer.json!.toString('utf8')) as ReputationView;
  expect(bare(served), `${label}: GET bytes`).toStrictEqual(bare(fresh));
  expect(JSON.stringify(answer.view), `${label}: bytes are the object's`).toBe(answer.json!.toString('utf8'));
  // POST /v1/query: a bad digest between two of the same, joined as the route joins them.
  const items = await svc.queryAnswer([digest, 'sha256:nope', `sha256:${digest}`], {});
  const joined = Buffer.concat([Buffer.from('{"results":['), ...items.flatMap((a, i) => [...(i > 0 ? [Buffer.from(',')] : []), a.json ?? Buffer.from(JSON.stringify(a.item))]), Buffer.from(']}')]).toString('utf8');
  const parsed = JSON.parse(joined) as { results: unknown[] };
  expect(parsed.results[1], label).toMatchObject({ digest: 'sha256:nope', error: { code: 'bad_input' } });
  const summary = JSON.parse(JSON.stringify(viewSummary(fresh))) as unknown;
  expect(bare(parsed.results[0]), `${label}: query bytes`).toStrictEqual(bare(summary));
  expect(bare(parsed.results[2]), `${label}: query bytes (again)`).toStrictEqual(bare(summary));
  expect(parsed, `${label}: bytes are query()'s`).toStrictEqual(JSON.parse(JSON.stringify(await svc.query([digest, 'sha256:nope', `sha256:${digest}`], {}))));
  return served;
}

describe('kept views served as bytes', () => {
  it('GET and POST /v1/query bytes follow a commit, a trust change, endorsement changes held by the budget and their release', async () => {
    const clock = testClock();
    const [lab, x, y, z] = [makeIssuer(), makeIssuer(), makeIssuer(), makeIssuer()];
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, clock.now, async (node) => {
      const svc = new NodeService(node);
      const model = randomDigest();
      await accept(node, audit(lab, model, 'pass'));
      await accept(node, audit(z, model, 'fail'));
      let v = await answersMatchFresh(node, svc, model, clock.now(), 'first');
      expect(v.status).toBe('ok');
      v = await answersMatchFresh(node, svc, model, clock.now(), 'kept');
      const hits = node.views.stats.hits;
      await svc.viewAnswer(model, { local: false });
      expect(node.views.stats.hits).toBe(hits + 1);

      // A commit: a newer audit by the root supersedes its pass.
      clock.advance(1_000);
      await accept(node, audit(lab, model, 'warn', new Date()));
      v = await answersMatchFresh(node, svc, model, clock.now(), 'after a commit');
      expect(v.byPredicate['audit']?.summary).toBe('warn');

      // A trust change: the root endorses x, then x (within its budget of one) endorses y.
      clock.advance(1_000);
      await accept(node, endorse(lab, x));
      await answersMatchFresh(node, svc, model, clock.now(), 'after endorsing x');
      clock.advance(1_000);
      await accept(node, endorse(x, y));
      await answersMatchFresh(node, svc, model, clock.now(), 'after x endorses y');
      expect((await node.trust()).counts(y.did)).toBe(true);

      // x endorses z past its budget: stored, held out of the graph, and said so.
      clock.advance(1_000);
      await accept(node, endorse(x, z));
      v = await answersMatchFresh(node, svc, model, clock.now(), 'held by the budget');
      expect(v.deferredEndorsements).toEqual([expect.objectContaining({ issuer: x.did, changes: 1 })]);
      expect(v.status).not.toBe('flagged');
      // The next window: z's failing audit counts, and no word of waiting changes stays.
      clock.at(Math.floor(clock.now() / 60_000) * 60_000 + 60_000);
      v = await answersMatchFresh(node, svc, model, clock.now(), 'released');
      expect(v.deferredEndorsements).toBeUndefined();
      expect(v.status).toBe('flagged');
      v = await answersMatchFresh(node, svc, model, clock.now(), 'released, kept');
      expect(v.status).toBe('flagged');
    }, { 'limits.trustChangesPerIssuerPerMinute': 1 });
  });

  it('a what-if (`without`) is never the kept answer, and does not change it', async () => {
    const clock = testClock();
    const [lab, other] = [makeIssuer(), makeIssuer()];
    await withNode({ version: 2, roots: [{ issuer: lab.did }, { issuer: other.did }] }, clock.now, async (node) => {
      const svc = new NodeService(node);
      const model = randomDigest();
      await accept(node, audit(lab, model, 'fail'));
      await accept(node, audit(other, model, 'pass'));
      const plain = await svc.viewAnswer(model, { local: false });
      await svc.viewAnswer(model, { local: false });
      expect(plain.view.status).toBe('disputed');
      const whatIf = await svc.viewAnswer(model, { without: lab.did, local: false });
      expect(whatIf.json).toBeUndefined();
      expect(whatIf.view).toMatchObject({ without: lab.did, status: 'ok' });
      const items = await svc.queryAnswer([model, model], { without: lab.did, evidence: true });
      expect(items.every((a) => a.json === undefined)).toBe(true);
      expect(items.map((a) => (a.item as ReputationView).status)).toEqual(['ok', 'ok']);
      const again = await svc.viewAnswer(model, { local: false });
      expect(again.json?.toString('utf8')).toBe(plain.json?.toString('utf8'));
      expect(JSON.parse(again.json!.toString('utf8'))).not.toHaveProperty('without');
    });
  });

  it('a new completeness summary from the mirror is served at once (the bytes are made again)', async () => {
    const clock = testClock();
    const lab = makeIssuer();
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, clock.now, async (node) => {
      const svc = new NodeService(node);
      let state: 'complete' | 'missing' = 'complete';
      let summary = { complete: true, mirror: true, counts: { complete: 1, missing: 0, stale: 0, unsettled: 0, 'no-log': 0, equivocated: 0, own: 0 }, missing: 0, notComplete: [] as never[] };
      const mirror: CompletenessSource = {
        summary: () => summary,
        completeness: (did) => ({ issuer: did, state, verified: 3, known: 3 + (state === 'missing' ? 2 : 0), missing: state === 'missing' ? 2 : 0, checkpointAt: null, witnesses: 0, settled: true }),
        equivocation: () => undefined,
      };
      node.attachMirror(mirror);
      const model = randomDigest();
      await accept(node, audit(lab, model, 'pass'));
      let v = await answersMatchFresh(node, svc, model, clock.now(), 'complete');
      expect(v.completeness).toMatchObject({ complete: true, issuers: [{ issuer: lab.did, state: 'complete' }] });
      // The log falls behind: the mirror says so with a new summary (as it does on every change).
      state = 'missing';
      summary = { ...summary, complete: false, counts: { ...summary.counts, complete: 0, missing: 1 }, missing: 2 };
      v = await answersMatchFresh(node, svc, model, clock.now(), 'missing');
      expect(v.completeness).toMatchObject({ complete: false, missing: 2, issuers: [{ issuer: lab.did, state: 'missing' }] });
    });
  });

  it('views asked while the trust graph changes are never kept under the old graph: what follows is the new graph\'s answer', async () => {
    const clock = testClock();
    const [lab, ...others] = [makeIssuer(), ...Array.from({ length: 5 }, () => makeIssuer())];
    await withNode({ version: 2, roots: [{ issuer: lab.did }] }, clock.now, async (node) => {
      const svc = new NodeService(node);
      const models = Array.from({ length: 4 }, () => randomDigest());
      for (const m of models) for (const o of others) await accept(node, audit(o, m, 'fail'));
      for (const m of models) await accept(node, audit(lab, m, 'pass'));
      for (const [i, o] of others.entries()) {
        clock.advance(1_000);
        // Views in flight (cold and kept) while the endorsement commits and the graph is recomputed.
        const asked = models.flatMap((m) => [svc.viewAnswer(m, { local: false }), svc.queryAnswer(models, {}), node.view(m)]);
        await Promise.all([...asked, accept(node, endorse(lab, o, ['audit']))]);
        await Promise.all(models.map((m) => node.view(m)));
        for (const m of models) {
          const v = await answersMatchFresh(node, svc, m, clock.now(), `after endorsement ${i}`);
          expect(v.byPredicate['audit']?.counted, `after endorsement ${i}`).toBe(i + 2);
        }
      }
    });
  });

  it('the view cache: a view begun under the old graph is neither kept nor served after trustChanged, and a get with another graph misses', () => {
    const cache = new ViewCache<ReputationView>(100, 1e9);
    const [g1, g2] = [{} as TrustGraph, {} as TrustGraph];
    const view = { digest: 'sha256:x', byPredicate: {} } as unknown as ReputationView;
    cache.trustChanged(g1);
    cache.put(cache.begin(), 'a', g1, 0, view, ['a'], []);
    expect(cache.get('a', g1, 1)).toBe(view);
    const token = cache.begin();
    cache.trustChanged(g2);
    expect(cache.get('a', g1, 1)).toBeUndefined();
    expect(cache.get('a', g2, 1)).toBeUndefined();
    cache.put(token, 'b', g1, 0, view, ['b'], []);
    cache.put(cache.begin(), 'c', g1, 0, view, ['c'], []); // begun after the change, with the graph read before it
    expect(cache.get('b', g2, 1)).toBeUndefined();
    expect(cache.get('c', g2, 1)).toBeUndefined();
    expect(cache.size.entries).toBe(0);
  });
});

describe('kept views over HTTP: local scan results only with the token', () => {
  it('GET …/reputation without the token never carries `local`, before or after a kept answer with it; POST /v1/query never does', async () => {
    const td = await startTestDaemon('chorus-rev24-http-');
    try {
      const lab = makeIssuer();
      const model = randomDigest();
      await writeFile(join(td.dir, 'scan-last.json'), JSON.stringify({
        at: new Date().toISOString(),
        paths: ['/home/secret-user/models'],
        report: { models: [{ digest: model, name: 'm', runtime: 'ollama', root: '/home/secret-user/models/m', inspection: 'full', files: [{ name: 'w.gguf', path: '/home/secret-user/models/m/w.gguf', sha256: model, findings: [] }] }] },
      }));
      const auth = { authorization: `Bearer ${td.token}` };
      const publish = await fetch(`${td.url}/v1/attestations`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: audit(lab, model, 'pass') });
      expect(publish.status).toBe(201);
      const get = async (headers: Record<string, string>): Promise<string> => {
        const res = await fetch(`${td.url}/v1/models/sha256:${model}/reputation`, { headers });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('application/json');
        return res.text();
      };
      const anon1 = await get({});
      const withToken = await get(auth);
      const anon2 = await get({});
      const anon3 = await get({});
      expect(JSON.parse(withToken)).toHaveProperty('local');
      expect(withToken).toContain('/home/secret-user/models');
      for (const text of [anon1, anon2, anon3]) {
        expect(JSON.parse(text)).not.toHaveProperty('local');
        expect(text).not.toContain('secret-user');
      }
      expect(bare(JSON.parse(anon2))).toStrictEqual(bare(JSON.parse(anon1)));
      const { local: _local, ...tokenView } = JSON.parse(withToken) as { local: unknown };
      expect(bare(tokenView)).toStrictEqual(bare(JSON.parse(anon1)));
      for (const headers of [{}, auth]) {
        const q = await fetch(`${td.url}/v1/query`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ digests: [`sha256:${model}`, 'nope', model], evidence: true }) });
        expect(q.status).toBe(200);
        const text = await q.text();
        expect(text).not.toContain('secret-user');
        const body = JSON.parse(text) as { results: { status?: string; error?: unknown; byPredicate?: Record<string, { attestations: unknown[] }> }[] };
        expect(body.results).toHaveLength(3);
        expect(body.results[0]!.byPredicate!['audit']!.attestations).toHaveLength(1);
        expect(body.results[1]!.error).toBeDefined();
        expect(body.results[2]!.byPredicate!['audit']!.attestations).toHaveLength(0);
      }
    } finally {
      await td.stop();
    }
  });
});
