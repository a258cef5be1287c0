import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pae } from '../../src/dsse/pae.js';
import { leafHash, MerkleTree } from '../../src/tlog/merkle.js';
import { checkpointText, signNote } from '../../src/tlog/note.js';
import { logOrigin, timeExtension } from '../../src/tlog/witness.js';
import type { Daemon } from '../../node/daemon/daemon.js';
import { LOG_PROTOCOL } from '../../node/net/log-sync.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';
import type { Mirror } from '../../node/tlog/mirror.js';
import { makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { NetHarness } from '../support/net-harness.js';
import { until as waitFor } from '../support/until.js';

/*
 * Crash resistance of issuer logs (SPEC §16.3, §16.6): every field of every log-protocol
 * request and reply, and of an equivocation proof, with values of the wrong type or out of
 * bounds; the HTTP routes of §16.2 with hostile dids and parameters. A node never crashes,
 * answers a typed error, penalises a peer that sends a malformed request, and changes nothing.
 */

const net = new NetHarness({ 'transparency.checkpointSeconds': 1, 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mirrorOf = (d: Daemon): Mirror => (d.network!.logSync as unknown as { mirror: Mirror }).mirror;
const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> => waitFor(what, f, ms);
const idOfLine = (line: string): string => {
  const e = JSON.parse(line) as { payloadType: string; payload: string };
  return createHash('sha256').update(pae(e.payloadType, Buffer.from(e.payload, 'base64'))).digest('hex');
};
function noteOf(k: TestIssuer, size: number, root: Uint8Array, timeMs = Date.now()): string {
  return signNote(checkpointText({ origin: logOrigin(k.did), size, root, extensions: [timeExtension(timeMs)] }), logOrigin(k.did), k.secretKey);
}

/** Raw bytes (or JSON) on one log-protocol stream from a bare host: the reply, or why there is none. */
async function askRaw(h: Libp2p, d: Daemon, body: Uint8Array): Promise<{ reply?: unknown; error?: string }> {
  let stream: Stream;
  try {
    stream = await h.dialProtocol(multiaddr(d.network!.listenAddrs[0]!), LOG_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    return { error: `dial: ${(e as Error).message}` };
  }
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 });
  try {
    await lp.write(body);
    const r = await lp.read({ signal: AbortSignal.timeout(5_000) });
    await stream.close().catch(() => undefined);
    return { reply: JSON.parse(new TextDecoder().decode(r.subarray())) };
  } catch (e) {
    stream.abort(e as Error);
    return { error: (e as Error).message };
  }
}

let d: Daemon;
const k = makeIssuer();
let kIds: string[] = [];
let kNote = '';
let kLines: string[] = [];

/** A peer answering the log protocol by `answer` and sync fetches from `envelopes`. */
async function scriptedPeer(answer: (req: Record<string, unknown>) => unknown, envelopes = new Map<string, string>()): Promise<Libp2p> {
  const h = await net.bareHost();
  const one = async (stream: Stream, f: (req: Record<string, unknown>) => unknown) => {
    const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 });
    try {
      const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Record<string, unknown>;
      const out = f(req);
      await lp.write(out instanceof Uint8Array ? out : enc(out));
      await stream.close();
    } catch (e) {
      stream.abort(e as Error);
    }
  };
  await h.handle(LOG_PROTOCOL, (s) => one(s, answer), { runOnLimitedConnection: true });
  await h.handle(SYNC_PROTOCOL, (s) => one(s, (req) => (req['type'] === 'fetch' ? { envelopes: (req['ids'] as string[]).flatMap((id) => (envelopes.has(id) ? [envelopes.get(id)!] : [])) } : { ranges: [] })), { runOnLimitedConnection: true });
  return h;
}

beforeAll(async () => {
  d = await net.node();
  // The node's own log has a few leaves; it mirrors issuer k (3 leaves, complete).
  for (let i = 0; i < 3; i++) {
    const r = await d.node.ingestor.ingest(makeEnvelopeLine(makeIssuer(d.node.identity.secretKey), { subjects: [randomDigest()] }));
    expect(r.outcome).toBe('accept');
  }
  await d.ownLog.append([]);
  await d.ownLog.maybeSign(true);
  kLines = [0, 1, 2].map(() => makeEnvelopeLine(k, { subjects: [randomDigest()] }));
  kIds = kLines.map(idOfLine);
  const t = new MerkleTree();
  for (const id of kIds) t.append(leafHash(Buffer.from(id, 'hex')));
  kNote = noteOf(k, 3, t.root());
  const token = (await readFile(d.node.home.token, 'utf8')).trim();
  const r = await fetch(`${d.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: k.did }) });
  expect(r.status).toBe(200);
  const source = await scriptedPeer((req) => (req['type'] === 'checkpoints' ? { notes: [kNote] } : req['type'] === 'leaves' ? { ids: kIds.slice(req['start'] as number, req['end'] as number) } : req['type'] === 'equivocations' ? { proofs: [] } : { error: 'no' }), new Map(kIds.map((id, i) => [id, kLines[i]!])));
  await d.network!.connect(source.getMultiaddrs()[0]!.toString());
  await until('k\'s log to be complete', () => (mirrorOf(d).completeness(k.did).state === 'complete' ? true : undefined));
  await d.network!.host.hangUp(source.peerId);
}, 30_000);

describe('malformed log-protocol requests (SPEC §16.3: refused, and a protocol abuse)', () => {
  it('every field of every request with a value of the wrong type or out of bounds: no answer, the peer penalised, nothing changed', async () => {
    const did = k.did;
    const own = d.node.identity.did;
    const id = kIds[0]!;
    const bodies: [string, unknown][] = [
      ['null', null], ['number', 42], ['string', 'checkpoints'], ['array', [{ type: 'equivocations' }]], ['empty object', {}], ['unknown type', { type: 'nope' }], ['type number', { type: 7 }],
      ['checkpoints: issuers a string', { type: 'checkpoints', issuers: did }], ['checkpoints: none', { type: 'checkpoints', issuers: [] }], ['checkpoints: 257', { type: 'checkpoints', issuers: Array.from({ length: 257 }, () => did) }],
      ['checkpoints: a number', { type: 'checkpoints', issuers: [1] }], ['checkpoints: not a did', { type: 'checkpoints', issuers: ['did:web:example.com'] }], ['checkpoints: extra field', { type: 'checkpoints', issuers: [did], more: true }],
      ['checkpoints: null issuers', { type: 'checkpoints', issuers: null }], ['checkpoints: object', { type: 'checkpoints', issuers: { 0: did, length: 1 } }],
      ['leaves: start a string', { type: 'leaves', issuer: did, start: '0', end: 1 }], ['leaves: negative', { type: 'leaves', issuer: did, start: -1, end: 1 }], ['leaves: fraction', { type: 'leaves', issuer: did, start: 0.5, end: 1 }],
      ['leaves: empty range', { type: 'leaves', issuer: did, start: 1, end: 1 }], ['leaves: 1001', { type: 'leaves', issuer: did, start: 0, end: 1001 }], ['leaves: reversed', { type: 'leaves', issuer: did, start: 5, end: 2 }],
      ['leaves: 2^53', { type: 'leaves', issuer: did, start: 2 ** 53, end: 2 ** 53 + 2 }], ['leaves: 1e308', { type: 'leaves', issuer: did, start: 1e308, end: 1e308 }], ['leaves: no end', { type: 'leaves', issuer: did, start: 0 }],
      ['leaves: issuer number', { type: 'leaves', issuer: 5, start: 0, end: 1 }], ['leaves: start null', { type: 'leaves', issuer: did, start: null, end: 1 }], ['leaves: start object', { type: 'leaves', issuer: own, start: {}, end: 1 }],
      ['inclusion: id upper-case', { type: 'inclusion', issuer: did, id: id.toUpperCase() }], ['inclusion: id short', { type: 'inclusion', issuer: did, id: id.slice(1) }], ['inclusion: id number', { type: 'inclusion', issuer: did, id: 1 }],
      ['inclusion: id array', { type: 'inclusion', issuer: own, id: [id] }], ['inclusion: no issuer', { type: 'inclusion', id }],
      ['consistency: from a string', { type: 'consistency', issuer: did, from: '1', to: 3 }], ['consistency: negative', { type: 'consistency', issuer: did, from: -1, to: 3 }], ['consistency: to an array', { type: 'consistency', issuer: own, from: 1, to: [3] }],
      ['consistency: to a bool', { type: 'consistency', issuer: did, from: 0, to: true }], ['consistency: to 2^60', { type: 'consistency', issuer: own, from: 0, to: 2 ** 60 }],
      ['equivocations: extra field', { type: 'equivocations', limit: 1e9 }],
    ];
    const raw: [string, Uint8Array][] = [
      ['not JSON', new TextEncoder().encode('hello')], ['empty', new Uint8Array(0)], ['invalid UTF-8', Uint8Array.from([0xff, 0xfe, 0x7b])],
      ['deeply nested', new TextEncoder().encode('['.repeat(100_000) + ']'.repeat(100_000))],
      ['__proto__', new TextEncoder().encode(`{"type":"leaves","issuer":"${did}","__proto__":{"start":0,"end":1}}`)],
    ];
    const results: string[] = [];
    for (const [what, body] of [...bodies.map(([w, b]) => [w, enc(b)] as [string, Uint8Array]), ...raw]) {
      const h = await net.bareHost();
      const r = await askRaw(h, d, body);
      await sleep(20);
      const penalised = d.network!.penalties.score(h.peerId.toString()) < 0;
      if (r.reply !== undefined || !penalised) results.push(`${what}: ${r.reply !== undefined ? `answered ${JSON.stringify(r.reply).slice(0, 80)}` : 'no answer'}${penalised ? '' : ', not penalised'}`);
      await h.stop();
    }
    expect(results, 'requests answered or not penalised').toEqual([]);
    // The node is well and its logs unchanged.
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    expect(mirrorOf(d).completeness(k.did)).toMatchObject({ state: 'complete', verified: 3 });
    const clean = await net.bareHost();
    const ok = await askRaw(clean, d, enc({ type: 'leaves', issuer: k.did, start: 0, end: 3 }));
    expect(ok.reply).toEqual({ ids: kIds });
  }, 60_000);

  it('well-formed requests out of the log\'s range get a typed error, not a penalty', async () => {
    const h = await net.bareHost();
    const own = d.node.identity.did;
    const cases = [
      { type: 'leaves', issuer: own, start: 10, end: 11 }, { type: 'leaves', issuer: k.did, start: 10, end: 11 }, { type: 'consistency', issuer: own, from: 3, to: 1 },
      { type: 'consistency', issuer: k.did, from: 1, to: 99 }, { type: 'inclusion', issuer: k.did, id: 'ab'.repeat(32) }, { type: 'inclusion', issuer: makeIssuer().did, id: 'ab'.repeat(32) },
      { type: 'checkpoints', issuers: [makeIssuer().did] },
    ];
    const out = [];
    for (const c of cases) {
      const r = await askRaw(h, d, enc(c));
      out.push(r.reply ?? r.error);
    }
    expect(out).toEqual([{ error: expect.any(String) }, { ids: [] }, { error: expect.any(String) }, { error: expect.any(String) }, { error: expect.any(String) }, { error: expect.any(String) }, { notes: [] }]);
    expect(d.network!.penalties.score(h.peerId.toString())).toBe(0);
  });

  it('a request over 256 KiB is refused — and, like a malformed one, counts as abuse', async () => {
    const h = await net.bareHost();
    const r = await askRaw(h, d, enc({ type: 'checkpoints', issuers: Array.from({ length: 5000 }, () => k.did) }));
    expect(r.reply).toBeUndefined();
    await sleep(50);
    expect(d.network!.penalties.score(h.peerId.toString()), 'penalty for a 300 KiB request (SPEC §16.6: "≤ 256 KiB a message … malformed = abuse")').toBeLessThan(0);
  });
});

describe('hostile answers to the node\'s own requests (exchange on connect, catch-up)', () => {
  it('answers of every wrong type: the node stays up, keeps nothing, holds no proof', async () => {
    const other = makeIssuer();
    const otherNote = noteOf(other, 1, randomBytes(32));
    const kBig = noteOf(k, 4, randomBytes(32));
    const goodA = noteOf(makeIssuer(), 1, randomBytes(32));
    // What the node asks: equivocations, then checkpoints of k, then (for k's size-4 checkpoint) leaves from 3.
    const variants: Record<string, (req: Record<string, unknown>) => unknown>[] = [
      { equivocations: () => ({ proofs: null }) },
      { equivocations: () => ({ proofs: [null, 1, 'x', [], {}, { type: 'chorus-equivocation/v1', a: 1, b: {}, nodes: 'x' }, { type: 'chorus-equivocation/v1', a: goodA, b: goodA, nodes: [1] }, { type: 'chorus-equivocation/v1', a: goodA, b: goodA, nodes: Array.from({ length: 65 }, () => '00'.repeat(32)) }, { type: 'chorus-equivocation/v1', a: goodA, b: otherNote, nodes: [] }, { type: 'chorus-equivocation/v1', a: kNote, b: kNote, nodes: [] }, { type: 'chorus-equivocation/v1', a: kNote, b: kBig, nodes: ['zz'.repeat(32)] }] }) },
      { equivocations: () => new TextEncoder().encode('['.repeat(200_000)) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [1, null, {}, [], 'garbage', otherNote, `${kNote}x`, kNote.replace('\n3\n', '\n03\n')] }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: 'x' }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => null },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [otherNote] }), leaves: () => ({ ids: ['00'.repeat(32)] }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ ids: [1] }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ ids: 'abc' }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ ids: Array.from({ length: 1000 }, () => kIds[0]) }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ ids: [kIds[0]!.toUpperCase()] }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ error: { nested: true } }) },
      { equivocations: () => ({ proofs: [] }), checkpoints: () => ({ notes: [kBig] }), leaves: () => ({ ids: ['00'.repeat(32)], extra: 1 }) },
    ];
    for (const v of variants) {
      const h = await scriptedPeer((req) => (v[req['type'] as string] ?? (() => ({ error: 'no' })))(req));
      await d.network!.connect(h.getMultiaddrs()[0]!.toString()).catch(() => undefined);
      await sleep(300);
      await d.network!.host.hangUp(h.peerId).catch(() => undefined);
      await h.stop();
    }
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    const c = mirrorOf(d).completeness(k.did);
    // k's 4-leaf checkpoint is genuine (k signed it), so it may be pending; nothing past 3 is verified.
    expect(c.verified).toBe(3);
    expect(mirrorOf(d).equivocations()).toEqual([]);
    expect(mirrorOf(d).stats.issuers, 'logs held (k only)').toBe(1);
  }, 45_000);
});

describe('HTTP routes of issuer logs with hostile parameters (SPEC §16.2)', () => {
  it('hostile dids and parameters: 400 or 404, never 5xx; equivocation bodies of every wrong type: 400 or 422', async () => {
    const own = d.node.identity.did;
    const mk = k.did;
    const token = (await readFile(d.node.home.token, 'utf8')).trim();
    const gets = [
      `/v1/issuers/x/checkpoint`, `/v1/issuers/${'did:key:z' + 'A'.repeat(200)}/checkpoint`, `/v1/issuers/%00/checkpoint`, `/v1/issuers/..%2F..%2Fetc/checkpoint`, `/v1/issuers/${encodeURIComponent(mk + '!00')}/log`,
      `/v1/issuers/${makeIssuer().did}/checkpoint`, `/v1/issuers/${makeIssuer().did}/log`, `/v1/issuers/${makeIssuer().did}/proof/consistency?from=0&to=0`,
      `/v1/issuers/${own}/log?start=-1`, `/v1/issuers/${own}/log?start=abc`, `/v1/issuers/${own}/log?start=1e300`, `/v1/issuers/${own}/log?start=9007199254740993`, `/v1/issuers/${own}/log?start=5&end=1`,
      `/v1/issuers/${own}/log?start=0&end=99999999`, `/v1/issuers/${own}/log?start=1&start=2`, `/v1/issuers/${own}/log?limit=5`, `/v1/issuers/${own}/log?start=4`,
      `/v1/issuers/${mk}/log?start=-1`, `/v1/issuers/${mk}/log?start=4`, `/v1/issuers/${mk}/log?start=0&end=4`, `/v1/issuers/${mk}/log?start=2&end=1`, `/v1/issuers/${mk}/log?start=0x10`,
      `/v1/issuers/${own}/proof/inclusion?id=zz`, `/v1/issuers/${own}/proof/inclusion?id=${'AB'.repeat(32)}`, `/v1/issuers/${own}/proof/inclusion?id=${kIds[0]}`,
      `/v1/issuers/${own}/proof/inclusion?id=${'ab'.repeat(32)}&size=0`, `/v1/issuers/${mk}/proof/inclusion?id=${kIds[0]}&size=1`, `/v1/issuers/${mk}/proof/inclusion?id=${'ab'.repeat(32)}`,
      `/v1/issuers/${own}/proof/consistency?from=3&to=1`, `/v1/issuers/${own}/proof/consistency?from=0&to=9007199254740991`, `/v1/issuers/${mk}/proof/consistency?from=1&to=4`, `/v1/issuers/${mk}/proof/consistency?from=abc&to=1`,
      `/v1/issuers/${mk}/proof/consistency?from=1`, `/v1/issuers/x/log/status`, `/v1/issuers/${'did:key:z' + '1'.repeat(50)}/log/status`,
    ];
    const bad: string[] = [];
    for (const p of gets) {
      const r = await fetch(`${d.url}${p}`);
      if (r.status >= 500 || r.status < 400) bad.push(`GET ${p} → ${r.status} ${(await r.text()).slice(0, 120)}`);
    }
    const post = (path: string, body: string, type = 'application/json') => fetch(`${d.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    for (const p of [`/v1/issuers/x/log/verify`, `/v1/issuers/${'did:key:z' + 'A'.repeat(90)}/log/verify`]) {
      const r = await post(p, '{}');
      if (r.status >= 500 || r.status < 400) bad.push(`POST ${p} → ${r.status}`);
    }
    const n = noteOf(makeIssuer(), 1, randomBytes(32));
    const proofs: unknown[] = [
      null, 1, 'x', [], {}, { type: 'chorus-equivocation/v1' }, { type: 'chorus-equivocation/v1', a: 1, b: 2, nodes: [] }, { type: 'chorus-equivocation/v1', a: n, b: n, nodes: {} },
      { type: 'chorus-equivocation/v1', a: n, b: n, nodes: [null] }, { type: 'chorus-equivocation/v1', a: n, b: n, nodes: Array.from({ length: 65 }, () => '00'.repeat(32)) },
      { type: 'chorus-equivocation/v1', a: n, b: n, nodes: ['AB'.repeat(32)] }, { type: 'chorus-equivocation/v1', a: 'x'.repeat(20_000), b: n, nodes: [] }, { type: 'chorus-equivocation/v1', a: [n], b: n, nodes: [] },
      { type: 'chorus-equivocation/v1', a: n, b: { toString: 1 }, nodes: [] }, { type: 'chorus-equivocation/v2', a: n, b: n, nodes: [] }, { type: 'chorus-equivocation/v1', a: kNote, b: kNote, nodes: [] },
    ];
    for (const p of proofs) {
      const r = await post('/v1/equivocations', JSON.stringify(p));
      if (r.status >= 500 || r.status < 400) bad.push(`POST /v1/equivocations ${JSON.stringify(p).slice(0, 60)} → ${r.status} ${(await r.text()).slice(0, 120)}`);
    }
    for (const [body, type] of [['not json', 'application/json'], ['a=1', 'application/x-www-form-urlencoded'], ['{"type":', 'application/json']] as const) {
      const r = await post('/v1/equivocations', body, type);
      if (r.status >= 500 || r.status < 400) bad.push(`POST /v1/equivocations (${type}) → ${r.status}`);
    }
    expect(bad).toEqual([]);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    expect(((await (await fetch(`${d.url}/v1/equivocations`)).json()) as { items: unknown[] }).items).toEqual([]);
  }, 30_000);
});
