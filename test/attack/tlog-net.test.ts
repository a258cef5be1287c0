import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { pae } from '../../src/dsse/pae.js';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, MAX_NOTE_BYTES, signNote } from '../../src/tlog/note.js';
import { cosign, logOrigin, timeExtension } from '../../src/tlog/witness.js';
import type { Daemon } from '../../node/daemon/daemon.js';
import type { Mirror } from '../../node/tlog/mirror.js';
import { CHECKPOINT_TOPIC, EQUIVOCATION_TOPIC } from '../../node/net/constants.js';
import { LOG_PROTOCOL } from '../../node/net/log-sync.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';
import { makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { NetHarness } from '../support/net-harness.js';
import { until as waitFor } from '../support/until.js';

/*
 * Issuer logs between real nodes on loopback (SPEC §16.3–16.5), attacked by peers: what a
 * peer can make a node say about completeness, whom it can make a node hold as an
 * equivocator, and what it can do to the anti-entropy exchange between honest nodes.
 */

const net = new NetHarness({ 'transparency.checkpointSeconds': 1, 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

/* ---- helpers ---- */

/** The daemon's mirror (held by its log sync; the daemon does not expose it). */
const mirrorOf = (d: Daemon): Mirror => (d.network!.logSync as unknown as { mirror: Mirror }).mirror;

const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> => waitFor(what, f, ms);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

async function token(d: Daemon): Promise<string> {
  return (await readFile(d.node.home.token, 'utf8')).trim();
}
async function trust(d: Daemon, issuer: string): Promise<void> {
  const r = await fetch(`${d.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${await token(d)}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer }) });
  expect(r.status, await r.clone().text()).toBe(200);
}
interface ViewJson { completeness: { complete: boolean; summary: string; counts: Record<string, number>; issuers: { issuer: string; state: string; verified: number; known: number; missing: number }[] } }
async function view(d: Daemon, digest: string): Promise<ViewJson> {
  return (await (await fetch(`${d.url}/v1/models/sha256:${digest}/reputation?lookup=false`)).json()) as ViewJson;
}
async function equivocations(d: Daemon): Promise<{ issuer: string }[]> {
  return ((await (await fetch(`${d.url}/v1/equivocations`)).json()) as { items: { issuer: string }[] }).items;
}
const idOfLine = (line: string): string => {
  const e = JSON.parse(line) as { payloadType: string; payload: string };
  return createHash('sha256').update(pae(e.payloadType, Buffer.from(e.payload, 'base64'))).digest('hex');
};
function treeOf(ids: readonly string[]): MerkleTree {
  const t = new MerkleTree();
  for (const id of ids) t.append(leafHash(Buffer.from(id, 'hex')));
  return t;
}
function noteOf(k: TestIssuer, size: number, root: Uint8Array, timeMs = Date.now()): string {
  return signNote(checkpointText({ origin: logOrigin(k.did), size, root, extensions: [timeExtension(timeMs)] }), logOrigin(k.did), k.secretKey);
}
/** An issuer with `n` statements about `digest`: the envelope lines, their ids, the tree. */
function history(k: TestIssuer, n: number, digest = randomDigest()): { digest: string; lines: string[]; ids: string[]; tree: MerkleTree } {
  const lines = Array.from({ length: n }, (_, i) => makeEnvelopeLine(k, { subjects: [i === 0 ? digest : randomDigest()], issuedAt: new Date(Date.now() - 120_000 + i * 1000) }));
  const ids = lines.map(idOfLine);
  return { digest, lines, ids, tree: treeOf(ids) };
}
/** A valid equivocation proof of a throwaway key's own "log": two size-1 trees. */
function selfEquivocation(k: TestIssuer, pad = 0): { type: string; a: string; b: string; nodes: string[] } {
  const [r1, r2] = [randomBytes(32), randomBytes(32)].sort(Buffer.compare);
  const padLines = (n: string) => {
    if (pad === 0) return n;
    const lines: string[] = [];
    // Extra signature lines of any other name are allowed (a note may carry any): not verified.
    while (lines.length < 99 && Buffer.byteLength(`${n}${lines.join('\n')}`) + 200 < 16 * 1024) lines.push(`\u2014 pad${lines.length} ${randomBytes(120).toString('base64')}`);
    return `${n}${lines.join('\n')}\n`;
  };
  return { type: 'chorus-equivocation/v1', a: padLines(noteOf(k, 1, r1!)), b: padLines(noteOf(k, 1, r2!)), nodes: [] };
}

type Answer = (req: Record<string, unknown>, from: string) => unknown;
/** A bare libp2p host answering the log protocol by `answer` (which may take its time) and sync fetches from `envelopes`. */
async function scriptedPeer(answer: Answer, envelopes: Map<string, string> = new Map()): Promise<Libp2p> {
  const h = await net.bareHost();
  const serveOne = async (stream: Stream, from: string, f: Answer) => {
    const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 });
    try {
      const raw = await lp.read();
      const req = JSON.parse(new TextDecoder().decode(raw.subarray())) as Record<string, unknown>;
      await lp.write(enc(await f(req, from)));
      await stream.close();
    } catch (e) {
      stream.abort(e as Error);
    }
  };
  await h.handle(LOG_PROTOCOL, (stream, conn) => serveOne(stream, conn.remotePeer.toString(), answer), { runOnLimitedConnection: true });
  await h.handle(SYNC_PROTOCOL, (stream, conn) => serveOne(stream, conn.remotePeer.toString(), (req) => {
    if (req['type'] === 'fetch') return { envelopes: (req['ids'] as string[]).flatMap((id) => (envelopes.has(id) ? [envelopes.get(id)!] : [])) };
    if (req['type'] === 'reconcile') return { ranges: [] };
    return { envelopes: [] };
  }), { runOnLimitedConnection: true });
  return h;
}
/** A peer that holds issuer `k`'s log as `note` over `ids`, and the envelopes it is given. */
function logServer(k: TestIssuer, note: string, ids: string[], envelopes: Map<string, string>, opts: { leavesDelayMs?: number; proofs?: () => unknown[] } = {}): Promise<Libp2p> {
  return scriptedPeer(async (req) => {
    switch (req['type']) {
      case 'checkpoints': return { notes: (req['issuers'] as string[]).includes(k.did) ? [note] : [] };
      case 'leaves':
        if (opts.leavesDelayMs) await sleep(opts.leavesDelayMs);
        return { ids: req['issuer'] === k.did ? ids.slice(req['start'] as number, req['end'] as number) : [] };
      case 'equivocations': return { proofs: opts.proofs?.() ?? [] };
      default: return { error: 'not served' };
    }
  }, envelopes);
}
const addrOf = (h: Libp2p): string => h.getMultiaddrs()[0]!.toString();

/** One request on the log protocol from a bare host, read with the protocol's own limit. */
async function ask(h: Libp2p, d: Daemon, body: unknown, maxDataLength = 256 * 1024): Promise<{ reply?: unknown; bytes?: number; error?: string }> {
  const stream = await h.dialProtocol(multiaddr(d.network!.listenAddrs[0]!), LOG_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  const lp = lpStream(stream, { maxDataLength });
  try {
    await lp.write(enc(body));
    const r = await lp.read({ signal: AbortSignal.timeout(10_000) });
    return { reply: JSON.parse(new TextDecoder().decode(r.subarray())), bytes: r.byteLength };
  } catch (e) {
    stream.abort(e as Error);
    return { error: (e as Error).message };
  }
}

/** A daemon that trusts `k` and holds its complete log (verified from a peer serving it). */
async function mirroring(k: TestIssuer, n = 2): Promise<{ d: Daemon; h: ReturnType<typeof history>; note: string; source: Libp2p }> {
  const h = history(k, n);
  const note = noteOf(k, n, h.tree.root());
  const source = await logServer(k, note, h.ids, new Map(h.ids.map((id, i) => [id, h.lines[i]!])));
  const d = await net.node();
  await trust(d, k.did);
  await d.network!.connect(addrOf(source));
  await until('the log to be complete', () => (mirrorOf(d).completeness(k.did).state === 'complete' ? true : undefined));
  return { d, h, note, source };
}

describe('completeness, attacked over the network (SPEC §16.3, §16.4)', () => {
  it('a peer that tells of an old checkpoint first, then answers slowly, cannot make the node read "complete" at the old size once the newest was offered to it', async () => {
    const k = makeIssuer();
    const h = history(k, 4);
    const envelopes = new Map(h.ids.map((id, i) => [id, h.lines[i]!]));
    // Both checkpoints are the issuer's own: the old one (size 2, a minute old) and its newest (size 4).
    const old = noteOf(k, 2, h.tree.root(2), Date.now() - 60_000);
    const newest = noteOf(k, 4, h.tree.root(4));
    // The attacker replays the old checkpoint and serves its leaves after 2 s.
    const attacker = await logServer(k, old, h.ids.slice(0, 2), envelopes, { leavesDelayMs: 2_000 });
    const honest = await logServer(k, newest, h.ids, envelopes);
    const d = await net.node();
    await trust(d, k.did);
    await d.network!.connect(addrOf(attacker));
    await until('the old checkpoint to be pending', () => (mirrorOf(d).completeness(k.did).known === 2 ? true : undefined));
    // An honest peer with the newest checkpoint, while the attacker's catch-up is on.
    await d.network!.connect(addrOf(honest));
    await until('the catch-up from the attacker to end', () => {
      const c = mirrorOf(d).completeness(k.did);
      return c.verified >= 2 && c.missing === 0 ? true : undefined;
    });
    await sleep(300);
    const v = await view(d, h.digest);
    const mine = v.completeness.issuers.find((i) => i.issuer === k.did);
    console.log(`[tlog-net] after the replay: ${JSON.stringify(mine)}; view complete: ${v.completeness.complete} ("${v.completeness.summary}")`);
    expect(mine?.known, 'the newest checkpoint size offered to this node by the honest peer').toBe(4);
    // Complete only at the newest size, never at the replayed one.
    if (v.completeness.complete) expect(mine).toMatchObject({ verified: 4, missing: 0 });
    else expect(mine?.state).toBe('missing');
  }, 30_000);

  it('a stranger\'s proof that its own throwaway key "equivocated" is not kept: a bystander\'s views stay complete', async () => {
    const k = makeIssuer();
    const { d, h } = await mirroring(k);
    expect((await view(d, h.digest)).completeness.complete).toBe(true);
    const stranger = makeIssuer();
    let served = 0;
    const attacker = await scriptedPeer((req) => {
      if (req['type'] === 'equivocations') {
        served++;
        return { proofs: [selfEquivocation(stranger)] };
      }
      return req['type'] === 'checkpoints' ? { notes: [] } : { error: 'not served' };
    });
    await d.network!.connect(addrOf(attacker));
    await until('the attacker to be asked for its proofs', () => (served > 0 ? true : undefined));
    await sleep(500);
    const held = await equivocations(d);
    const v = await view(d, h.digest);
    console.log(`[tlog-net] after a stranger's self-equivocation: proofs held ${held.length}; view: complete=${v.completeness.complete} "${v.completeness.summary}"`);
    expect(held.map((x) => x.issuer), 'proofs kept about an issuer that counts nowhere here').not.toContain(stranger.did);
    expect(v.completeness.complete, 'a view whose only counting issuer\'s log is complete').toBe(true);
  }, 30_000);

  it('fat equivocation proofs (throwaway keys, padded notes) are not kept, and the node\'s `equivocations` answer fits one message', async () => {
    const k = makeIssuer();
    const { d } = await mirroring(k);
    // The control: before the attack, an honest node following the issuer learns its checkpoint from this node.
    const c0 = await net.node();
    await trust(c0, k.did);
    await c0.network!.connect(d.network!.listenAddrs[0]!);
    await until('the control node to learn the issuer\'s checkpoint', () => (mirrorOf(c0).completeness(k.did).known > 0 ? true : undefined), 6_000);
    // The attacker hands over 7 padded proofs per exchange (its own answer stays under 256 KiB), twice.
    let round = 0;
    const attacker = await scriptedPeer((req) => {
      if (req['type'] === 'equivocations') {
        round++;
        return { proofs: Array.from({ length: 7 }, () => selfEquivocation(makeIssuer(), 1)) };
      }
      return req['type'] === 'checkpoints' ? { notes: [] } : { error: 'not served' };
    });
    for (let i = 0; i < 2; i++) {
      await d.network!.connect(addrOf(attacker));
      await until('the attacker to be asked', () => (round > i ? true : undefined));
      await sleep(300);
      await d.network!.host.hangUp(attacker.peerId);
      await sleep(200);
    }
    const probe = await net.bareHost();
    const r = await ask(probe, d, { type: 'equivocations' }, 64 * 1024 * 1024);
    console.log(`[tlog-net] the node's equivocations answer: ${r.bytes} bytes (the protocol reads at most ${256 * 1024})`);
    expect.soft(r.bytes ?? 0, 'SPEC §16.3: one reply per stream, at most 256 KiB either way').toBeLessThanOrEqual(256 * 1024);
    // An honest node that follows the same issuer learns its log from this node: the
    // exchange starts with `equivocations`, whose answer it cannot read.
    const c = await net.node();
    await trust(c, k.did);
    await c.network!.connect(d.network!.listenAddrs[0]!);
    const learnt = await until('the honest node to learn the issuer\'s checkpoint', () => (mirrorOf(c).completeness(k.did).known > 0 ? true : undefined), 6_000).catch(() => false);
    expect(learnt, 'an honest node following the issuer learns its checkpoint from this node').toBe(true);
  }, 45_000);
});

/** Three nodes in a line: an attacker, its victim, and an honest node beyond the victim. */
async function attackerVictimBeyond(): Promise<{ attacker: Daemon; victim: Daemon; beyond: Daemon }> {
  const attacker = await net.node();
  const victim = await net.node();
  const beyond = await net.node();
  await victim.network!.connect(attacker.network!.listenAddrs[0]!);
  await beyond.network!.connect(victim.network!.listenAddrs[0]!);
  return { attacker, victim, beyond };
}

describe('gossip floods (SPEC §16.3, §16.6)', () => {
  it('held: 60 checkpoints of fresh keys are neither kept nor forwarded; 30 forged equivocation proofs are rejected and cost the sender its score', async () => {
    const { attacker, victim, beyond } = await attackerVictimBeyond();
    const ps = attacker.network!.host.services.pubsub;
    const victimId = victim.network!.host.peerId;
    await until('the victim to subscribe the attacker\'s view', () => (ps.getSubscribers(CHECKPOINT_TOPIC).some((p) => p.equals(victimId)) && ps.getSubscribers(EQUIVOCATION_TOPIC).some((p) => p.equals(victimId)) ? true : undefined));
    // Published in batches until the victim has seen 50 (on a loaded machine the first may
    // go out before the mesh has the victim in it).
    let sent = 0;
    await until('the victim to see them', async () => {
      if (victim.network!.logSync!.stats.checkpointsReceived >= 50) return true;
      for (let i = 0; i < 10 && sent < 200; i++, sent++) await ps.publish(CHECKPOINT_TOPIC, new TextEncoder().encode(noteOf(makeIssuer(), 5, randomBytes(32)))).catch(() => undefined);
      await sleep(300);
      return undefined;
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(victim.network!.logSync!.stats)}`);
    });
    await sleep(1_500);
    expect(mirrorOf(victim).stats.issuers, 'logs the victim keeps').toBe(0);
    expect(beyond.network!.logSync!.stats.checkpointsReceived, 'fresh keys\' checkpoints forwarded to a node beyond').toBe(0);
    // Forged proofs: a note of the "issuer" signed by another key.
    for (let i = 0; i < 30; i++) {
      const k = makeIssuer();
      const p = selfEquivocation(k);
      const forger = makeIssuer();
      const forged = signNote(checkpointText({ origin: logOrigin(k.did), size: 1, root: randomBytes(32), extensions: [] }), logOrigin(k.did), forger.secretKey);
      await ps.publish(EQUIVOCATION_TOPIC, enc({ ...p, b: forged })).catch(() => undefined);
    }
    await until('the attacker to be graylisted by the victim', () => (victim.network!.host.services.pubsub.getScore(attacker.network!.peerId) < -30 ? true : undefined), 15_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: score ${victim.network!.host.services.pubsub.getScore(attacker.network!.peerId)}, connected ${victim.network!.host.getConnections(attacker.network!.host.peerId).length}, stats ${JSON.stringify(victim.network!.logSync!.stats)}`);
    });
    expect(await equivocations(victim)).toEqual([]);
    expect(await equivocations(beyond)).toEqual([]);
  }, 45_000);

  it('one gossiped proof of a throwaway key\'s own "equivocation" is neither kept nor forwarded: no node\'s view changes', async () => {
    const { attacker, victim, beyond } = await attackerVictimBeyond();
    const ps = attacker.network!.host.services.pubsub;
    await until('the victim to subscribe', () => (ps.getSubscribers(EQUIVOCATION_TOPIC).some((p) => p.toString() === victim.network!.peerId) ? true : undefined));
    await until('the node beyond to subscribe', () => (victim.network!.host.services.pubsub.getSubscribers(EQUIVOCATION_TOPIC).some((p) => p.toString() === beyond.network!.peerId) ? true : undefined));
    const digest = randomDigest();
    expect((await view(beyond, digest)).completeness.complete, 'before').toBe(true);
    await ps.publish(EQUIVOCATION_TOPIC, enc(selfEquivocation(makeIssuer())));
    await sleep(3_000);
    const v = await view(beyond, digest);
    console.log(`[tlog-net] one gossiped self-equivocation: the victim holds ${(await equivocations(victim)).length}, the node beyond ${(await equivocations(beyond)).length}; beyond's view of any digest: "${v.completeness.summary}"`);
    expect(await equivocations(beyond), 'proofs held two hops away about a key that counts nowhere').toEqual([]);
    expect(v.completeness.complete, 'a view with no evidence at all, on a node that trusts no one').toBe(true);
  }, 30_000);
});

describe('restart (SPEC §16.3: "a restart keeps the verified leaves")', () => {
  it('a counting issuer\'s long checkpoint, cosigned by throwaway witnesses through a peer: the node still starts again', async () => {
    const k = makeIssuer();
    const h = history(k, 2);
    // A valid 15 KB note: the issuer's text has a long extension line.
    const text = checkpointText({ origin: logOrigin(k.did), size: 2, root: h.tree.root(), extensions: [timeExtension(Date.now()), `x ${'y'.repeat(14_800)}`] });
    const nt = signNote(text, logOrigin(k.did), k.secretKey);
    // The peer serves the log, then the same checkpoint with cosignatures of fresh keys (a few per note).
    let asked = 0;
    const cosigned = () => {
      const lines: string[] = [];
      for (;;) {
        const w = makeIssuer();
        const line = cosign(text, w.did, w.secretKey, Math.floor(Date.now() / 1000)).line;
        if (Buffer.byteLength(`${nt.slice(0, -1)}\n${[...lines, line].join('\n')}\n`) > MAX_NOTE_BYTES) break;
        lines.push(line);
      }
      return `${nt.slice(0, -1)}\n${lines.join('\n')}\n`;
    };
    const peer = await scriptedPeer((req) => {
      switch (req['type']) {
        case 'checkpoints': return { notes: [asked++ === 0 ? nt : cosigned()] };
        case 'leaves': return { ids: h.ids.slice(req['start'] as number, req['end'] as number) };
        case 'equivocations': return { proofs: [] };
        default: return { error: 'no' };
      }
    }, new Map(h.ids.map((id, i) => [id, h.lines[i]!])));
    const home = resolveHome({}, await net.dir('chorus-tlog-restart-'));
    await initHome(home);
    const overrides = { 'api.port': 0, 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.dht': false, 'net.upnp': false, 'net.autonat': false, 'net.relay': 'off' };
    const d = await startDaemon(home, { env: {}, overrides, logger: makeLogger('silent', false) });
    try {
      await trust(d, k.did);
      await d.network!.connect(addrOf(peer));
      await until('the log to be complete', () => (mirrorOf(d).completeness(k.did).state === 'complete' ? true : undefined));
      // Each new connection is an exchange: the peer's checkpoint arrives with new cosignatures.
      for (let i = 0; i < 6; i++) {
        await d.network!.host.hangUp(peer.peerId);
        await sleep(250);
        await until('a new connection', () => d.network!.connect(addrOf(peer)).then(() => true, () => undefined), 5_000);
        await sleep(250);
      }
      const served = await (await fetch(`${d.url}/v1/issuers/${k.did}/checkpoint`)).text();
      console.log(`[tlog-net] the checkpoint this node now serves for the issuer: ${Buffer.byteLength(served)} bytes`);
      expect.soft(Buffer.byteLength(served), 'the note served and gossiped (every peer refuses one over 16 KiB)').toBeLessThanOrEqual(MAX_NOTE_BYTES);
    } finally {
      await d.stop();
    }
    const again = await startDaemon(home, { env: {}, overrides, logger: makeLogger('silent', false) }).catch((e: unknown) => e as Error);
    if (!(again instanceof Error)) await again.stop();
    expect(again instanceof Error ? `the node does not start: ${again.message}` : 'started').toBe('started');
  }, 45_000);
});

describe('the `checkpoints` answer (SPEC §16.3: up to 256 issuers a request, "at most 256 KiB either way")', () => {
  it('48 followed issuers whose checkpoints carry 32 cosignatures of throwaway witnesses: the node\'s answer still fits one message', async () => {
    const issuers = Array.from({ length: 48 }, () => makeIssuer());
    const logs = issuers.map((k) => {
      const h = history(k, 1);
      const note = noteOf(k, 1, h.tree.root());
      const text = note.slice(0, note.indexOf('\n\n') + 1);
      // Anyone can cosign anything with a key made for the purpose.
      const stuffed = `${note.slice(0, -1)}\n${Array.from({ length: 32 }, () => {
        const w = makeIssuer();
        return cosign(text, w.did, w.secretKey, Math.floor(Date.now() / 1000), w.sign).line;
      }).join('\n')}\n`;
      return { k, h, note, stuffed };
    });
    const byDid = new Map(logs.map((l) => [l.k.did as string, l]));
    // The exchange gets the plain notes (48 fit one answer); each catch-up, the cosigned one.
    const source = await scriptedPeer((req) => {
      switch (req['type']) {
        case 'checkpoints': {
          const dids = req['issuers'] as string[];
          return { notes: dids.flatMap((x) => (byDid.has(x) ? [dids.length === 1 ? byDid.get(x)!.stuffed : byDid.get(x)!.note] : [])) };
        }
        case 'leaves': return { ids: byDid.get(req['issuer'] as string)?.h.ids.slice(req['start'] as number, req['end'] as number) ?? [] };
        case 'equivocations': return { proofs: [] };
        default: return { error: 'no' };
      }
    }, new Map(logs.map((l) => [l.h.ids[0]!, l.h.lines[0]!])));
    const d = await net.node();
    const put = await fetch(`${d.url}/v1/trust`, { method: 'PUT', headers: { authorization: `Bearer ${await token(d)}`, 'content-type': 'application/json' }, body: JSON.stringify({ issuers: issuers.map((k) => ({ issuer: k.did })) }) });
    expect(put.status, await put.clone().text()).toBe(200);
    await d.network!.connect(addrOf(source));
    await until('every log to be complete', () => (issuers.every((k) => mirrorOf(d).completeness(k.did).state === 'complete') ? true : undefined), 30_000);
    const probe = await net.bareHost();
    const r = await ask(probe, d, { type: 'checkpoints', issuers: issuers.map((k) => k.did) }, 64 * 1024 * 1024);
    const sizes = issuers.map((k) => Buffer.byteLength(mirrorOf(d).note(k.did) ?? ''));
    console.log(`[tlog-net] the node's checkpoints answer for ${issuers.length} issuers: ${r.bytes} bytes (notes of ${Math.min(...sizes)}–${Math.max(...sizes)} bytes; a request may name 256 issuers, the reader takes 256 KiB)`);
    expect(r.bytes ?? 0, 'the answer an honest node following these issuers reads in its exchange with this node').toBeLessThanOrEqual(256 * 1024);
  }, 45_000);
});

