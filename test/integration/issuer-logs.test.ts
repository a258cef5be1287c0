import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { fromHex } from '../../src/encoding/bytes.js';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, signNote } from '../../src/tlog/note.js';
import { logOrigin, timeExtension, verifyEquivocation, witnessName } from '../../src/tlog/witness.js';
import type { Daemon } from '../../node/daemon/daemon.js';
import { makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { serveLogPeer, type LogPeerContent } from '../support/log-peer.js';
import { QUIET, TestNet, until as waitFor } from '../support/test-net.js';

/*
 * Issuer logs between real nodes on loopback (SPEC §16.3–16.5): a node mirrors the log of
 * an issuer it counts, says in every view whether it holds all of that issuer's statements,
 * routes around a peer that withholds one, keeps what it verified across a restart, and
 * catches an issuer that shows two histories, with a proof every node verifies and acts on.
 */

const net = new TestNet({ ...QUIET, 'transparency.checkpointSeconds': 1, 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> => waitFor(what, f, ms);

async function token(d: Daemon): Promise<string> {
  return (await readFile(d.node.home.token, 'utf8')).trim();
}

async function trust(d: Daemon, issuer: string): Promise<void> {
  const r = await fetch(`${d.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${await token(d)}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer }) });
  expect(r.status, await r.clone().text()).toBe(200);
}

interface ViewJson {
  status: string;
  completeness: { complete: boolean; summary: string; missing: number; counts: Record<string, number>; issuers: { issuer: string; state: string; missing: number; verified: number; known: number }[] };
  byPredicate: Record<string, { attestations: { id: string; issuer: string; counts: boolean }[] }>;
}

async function view(d: Daemon, digest: string): Promise<ViewJson> {
  return (await (await fetch(`${d.url}/v1/models/sha256:${digest}/reputation?lookup=false`)).json()) as ViewJson;
}

const idOf = async (d: Daemon, line: string): Promise<string> => {
  const r = await d.node.ingestor.ingest(line);
  if (r.outcome !== 'accept') throw new Error(`not accepted: ${r.code}`);
  return r.id;
};

describe('issuer logs between nodes', () => {
  it('a peer that withholds a retraction leaves the view incomplete; another peer completes it, and a restart keeps what was verified', async () => {
    const issuer = await net.node();
    const me = makeIssuer(issuer.node.identity.secretKey);
    const did = issuer.node.identity.did;
    const digest = randomDigest();
    const lines = [0, 1, 2].map((i) => makeEnvelopeLine(me, { subjects: [digest], issuedAt: new Date(Date.now() - 60_000 - i * 1000) }));
    const ids = [];
    for (const l of lines) ids.push(await idOf(issuer, l));
    const retraction = makeEnvelopeLine(me, { kind: 'retraction', subjects: [digest], fields: { target: ids[0], reason: 'the audit ran the wrong file' } });
    const rid = await idOf(issuer, retraction);
    await issuer.ownLog.append([]);
    await issuer.ownLog.maybeSign(true);
    const note = await issuer.ownLog.checkpoint();
    expect(issuer.ownLog.size).toBe(4);

    // The withholding peer: the issuer's real checkpoint and leaves, every envelope but the retraction.
    const withholder = await net.bareHost();
    const content: LogPeerContent = { notes: new Map([[did, note]]), leaves: new Map([[did, [...ids, rid]]]), envelopes: new Map(ids.map((id, i) => [id, lines[i]!])) };
    await serveLogPeer(withholder, content);

    let c = await net.node({}, { prefix: 'chorus-log-c-' });
    try {
      await trust(c, did);
      await c.network!.connect(withholder.getMultiaddrs()[0]!.toString());
      // The leaves verify against the signed root; three statements arrive, the retraction does not.
      const incomplete = await until('the view to show one statement missing', async () => {
        const v = await view(c, digest);
        const a = v.completeness.issuers.find((i) => i.issuer === did);
        return a?.verified === 4 && a.missing === 1 ? v : undefined;
      });
      expect(incomplete.completeness.complete).toBe(false);
      expect(incomplete.completeness.summary).toMatch(/1 missing 1 statement/);
      expect(incomplete.completeness.issuers.find((i) => i.issuer === did)!.state).toBe('missing');
      // What is missing is named, by id.
      const status = (await (await fetch(`${c.url}/v1/issuers/${did}/log/status`)).json()) as { missingIds: string[] };
      expect(status.missingIds).toEqual([rid]);
      // The view still counts the retracted audit (the newest): that is what withholding achieves, and why the view says it is incomplete.
      expect(incomplete.byPredicate['audit']!.attestations.filter((a) => a.counts).map((a) => a.id)).toEqual([ids[0]]);
    } finally {
      await c.stop();
    }

    // Restarted: the verified tree and what it lacks are still known, nothing to fetch again.
    c = await net.node({}, { home: c.home });
    try {
      const again = await view(c, digest);
      expect(again.completeness.issuers.find((i) => i.issuer === did)).toMatchObject({ state: 'missing', verified: 4, missing: 1 });
      // Another peer (the issuer's own node) has the retraction: completed, and the audit it retracts stops counting.
      const started = Date.now();
      await c.network!.connect(issuer.network!.listenAddrs[0]!);
      const complete = await until('the view to be complete', async () => {
        const v = await view(c, digest);
        return v.completeness.complete ? v : undefined;
      });
      console.log(`[issuer-logs] completed ${Date.now() - started} ms after connecting to the issuer`);
      expect(complete.completeness.issuers.find((i) => i.issuer === did)).toMatchObject({ state: 'complete', verified: 4, missing: 0 });
      expect(complete.byPredicate['audit']!.attestations.filter((a) => a.counts).map((a) => a.id)).not.toContain(ids[0]);
    } finally {
      await c.stop();
    }
  }, 90_000);

  it('a peer whose leaves do not hash to its own checkpoint is refused and penalised, and nothing it sent is kept', async () => {
    const k = makeIssuer(new Uint8Array(32).fill(41));
    const leaves = [0, 1, 2].map(() => randomDigest());
    const tree = new MerkleTree();
    for (const l of leaves) tree.append(leafHash(fromHex(l)!));
    const note = signNote(checkpointText({ origin: logOrigin(k.did), size: 3, root: tree.root(), extensions: [timeExtension(Date.now())] }), logOrigin(k.did), k.secretKey);
    const liar = await net.bareHost();
    await serveLogPeer(liar, { notes: new Map([[k.did, note]]), leaves: new Map([[k.did, [leaves[0]!, leaves[2]!, leaves[1]!]]]), envelopes: new Map() });
    const c = await net.node();
    await trust(c, k.did);
    await c.network!.connect(liar.getMultiaddrs()[0]!.toString());
    await until('the lie to be caught', () => (c.network!.logSync!.stats.lyingPeers > 0 ? true : undefined));
    const st = (await (await fetch(`${c.url}/v1/issuers/${k.did}/log/status`)).json()) as { completeness: { state: string; verified: number; known: number } };
    expect(st.completeness).toMatchObject({ state: 'missing', verified: 0, known: 3 });
    expect((await fetch(`${c.url}/v1/issuers/${k.did}/log`)).status).toBe(404);
    expect(c.network!.penalties.score(liar.peerId.toString())).toBeLessThan(0);
  }, 60_000);

  it('an issuer that shows two histories is caught: the proof reaches every node, verifies anywhere, and the issuer stops counting', async () => {
    const k: TestIssuer = makeIssuer(new Uint8Array(32).fill(42));
    const digest = randomDigest();
    // Two histories of the same size: each half of the network sees one.
    const historyA = [makeEnvelopeLine(k, { subjects: [digest] }), makeEnvelopeLine(k, { subjects: [randomDigest()] })];
    const historyB = [historyA[0]!, makeEnvelopeLine(k, { subjects: [randomDigest()] })];
    const half = async (history: string[]) => {
      const d = await net.node();
      await trust(d, k.did);
      const ids = [];
      for (const l of history) ids.push(await idOf(d, l));
      const t = new MerkleTree();
      for (const id of ids) t.append(leafHash(fromHex(id)!));
      const note = signNote(checkpointText({ origin: logOrigin(k.did), size: 2, root: t.root(), extensions: [timeExtension(Date.now())] }), logOrigin(k.did), k.secretKey);
      const source = await net.bareHost();
      await serveLogPeer(source, { notes: new Map([[k.did, note]]), leaves: new Map([[k.did, ids]]), envelopes: new Map(ids.map((id, i) => [id, history[i]!])) });
      await d.network!.connect(source.getMultiaddrs()[0]!.toString());
      await until('the half to verify its history', async () => {
        const s = (await (await fetch(`${d.url}/v1/issuers/${k.did}/log/status`)).json()) as { completeness: { verified: number; missing: number } };
        return s.completeness.verified === 2 && s.completeness.missing === 0 ? true : undefined;
      });
      return d;
    };
    const b = await half(historyA);
    const c = await half(historyB);
    // Both count the issuer now.
    expect((await view(b, digest)).byPredicate['audit']!.attestations.some((a) => a.issuer === k.did && a.counts)).toBe(true);
    // A third node between the two halves.
    const bystander = await net.node();
    await trust(bystander, k.did);
    const started = Date.now();
    await bystander.network!.connect(b.network!.listenAddrs[0]!);
    await bystander.network!.connect(c.network!.listenAddrs[0]!);
    for (const d of [b, c, bystander]) {
      await until('the equivocation proof to reach every node', async () => {
        const r = (await (await fetch(`${d.url}/v1/equivocations`)).json()) as { items: { issuer: string; proof: unknown }[] };
        return r.items.find((i) => i.issuer === k.did);
      }, 30_000);
    }
    console.log(`[issuer-logs] the proof reached all three nodes ${Date.now() - started} ms after the bystander connected`);
    // Portable: the proof verifies with nothing but the two notes.
    const r = (await (await fetch(`${bystander.url}/v1/equivocations`)).json()) as { items: { issuer: string; proof: unknown }[] };
    expect(verifyEquivocation(r.items[0]!.proof, referenceSuite).issuer).toBe(k.did);
    // By default the issuer stops counting, and the view says why.
    for (const d of [b, c]) {
      const v = await until('the issuer to stop counting', async () => {
        const x = await view(d, digest);
        return x.byPredicate['audit']!.attestations.every((a) => !a.counts) ? x : undefined;
      });
      expect(v.completeness.complete).toBe(false);
      expect(v.completeness.counts['equivocated']).toBe(1);
      expect(v.completeness.summary).toMatch(/equivocat/);
    }
    // The witnesses' cosignatures travelled with the checkpoints: b's checkpoint of k carries b's.
    const bNote = await (await fetch(`${b.url}/v1/issuers/${k.did}/checkpoint`)).text();
    expect(bNote).toContain(witnessName(b.node.identity.did));
  }, 120_000);

  it('refuses a forged equivocation proof with a typed error and keeps nothing', async () => {
    const d = await net.node();
    const k = makeIssuer(new Uint8Array(32).fill(43));
    const t = new MerkleTree();
    t.append(leafHash(fromHex(randomDigest())!));
    const text = checkpointText({ origin: logOrigin(k.did), size: 1, root: t.root(), extensions: [] });
    const a = signNote(text, logOrigin(k.did), k.secretKey);
    const post = async (body: unknown) => fetch(`${d.url}/v1/equivocations`, { method: 'POST', headers: { authorization: `Bearer ${await token(d)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // The same checkpoint twice: consistent, not an equivocation.
    const same = await post({ type: 'chorus-equivocation/v1', a, b: a, nodes: [] });
    expect(same.status).toBe(422);
    expect(((await same.json()) as { code: string }).code).toBe('not_equivocation');
    // A second "history" signed by another key: not the issuer's signature.
    const other = makeIssuer(new Uint8Array(32).fill(44));
    const forged = signNote(checkpointText({ origin: logOrigin(k.did), size: 1, root: new Uint8Array(32).fill(9), extensions: [] }), logOrigin(k.did), other.secretKey);
    const bad = await post({ type: 'chorus-equivocation/v1', a, b: forged, nodes: [] });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { code: string }).code).toBe('bad_signature');
    expect((await post({ nonsense: true })).status).toBe(400);
    expect(((await (await fetch(`${d.url}/v1/equivocations`)).json()) as { items: unknown[] }).items).toEqual([]);
  }, 30_000);
});
