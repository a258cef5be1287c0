import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceSuite } from '../../src/crypto/reference-suite.js';
import { fromHex } from '../../src/encoding/bytes.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/tlog/merkle.js';
import { encodeVerifierKey, parseCheckpoint, parseNote, verifiedBy, parseVerifierKey } from '../../src/tlog/note.js';
import type { HomePaths } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { logOrigin } from '../../node/tlog/own-log.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { TestNet, type TestNode } from '../support/test-net.js';
import { runCli } from '../e2e/run-cli.js';

/*
 * A node's own issuer log (SPEC §16) over its real HTTP API: existing own attestations are
 * backfilled in issuedAt order, new ones appended as accepted, the checkpoint is a C2SP
 * signed note that verifies with the node's key, proofs verify against it, and a restart
 * keeps the order.
 */

const net = new TestNet({ 'net.enabled': false, 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

const hexBytes = (h: string): Uint8Array => fromHex(h)!;

const start = (home: HomePaths): Promise<TestNode> => net.node({}, { home });

describe('the node\'s own issuer log', () => {
  it('backfills, appends, signs checkpoints that verify, proves inclusion and consistency, and keeps its order across a restart', async () => {
    const home = await net.home('chorus-own-log-');
    const token = (await readFile(home.token, 'utf8')).trim();
    // Three attestations signed by the node's own key, stored before any log existed, out of issuedAt order.
    const pre = await LocalNode.open(home, { env: {} });
    const me = makeIssuer(pre.identity.secretKey);
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const early = [3, 1, 2].map((h) => makeEnvelopeLine(me, { issuedAt: new Date(t0 + h * 3_600_000) }));
    const ds = [];
    for (const line of early) ds.push(await pre.ingestor.ingest(line));
    expect(ds.map((d) => d.outcome), JSON.stringify(ds.map((d) => d.code))).toEqual(['accept', 'accept', 'accept']);
    const earlyIds = ds.map((d) => (d.outcome === 'accept' ? d.id : ''));
    await pre.close();

    let daemon = await start(home);
    const did = daemon.node.identity.did;
    const get = (path: string) => fetch(`${daemon.url}/v1/issuers/${did}${path}`);
    try {
      const log1 = (await (await get('/log')).json()) as { size: number; ids: string[] };
      // issuedAt order: the one of hour 1, of hour 2, of hour 3.
      expect(log1.ids).toEqual([earlyIds[1], earlyIds[2], earlyIds[0]]);
      const first = await (await get('/checkpoint')).text();
      const cp1 = parseCheckpoint(parseNote(first).text);
      expect(cp1).toMatchObject({ origin: logOrigin(did), size: 3 });
      const key = parseVerifierKey(encodeVerifierKey(logOrigin(did), daemon.node.identity.publicKey));
      expect(verifiedBy(parseNote(first), key, referenceSuite)).toBe(true);

      // Two more of its own over the API, one of a stranger: the log takes its own only.
      const post = (line: string) => fetch(`${daemon.url}/v1/attestations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: line });
      const a = await (await post(makeEnvelopeLine(me))).json() as { id: string };
      await post(makeEnvelopeLine(makeIssuer()));
      const b = await (await post(makeEnvelopeLine(me))).json() as { id: string };
      await daemon.node.ingestor.idle();
      await daemon.ownLog.maybeSign(true);
      const second = await (await get('/checkpoint')).text();
      const cp2 = parseCheckpoint(parseNote(second).text);
      expect(cp2.size).toBe(5);
      const ids = ((await (await get('/log')).json()) as { ids: string[] }).ids;
      expect(ids.slice(3)).toEqual([a.id, b.id]);

      // Every leaf proves against the checkpoint; the old checkpoint is a prefix of the new.
      for (const id of ids) {
        const p = (await (await get(`/proof/inclusion?id=${id}`)).json()) as { index: number; size: number; proof: string[] };
        expect(verifyInclusion(leafHash(hexBytes(id)), p.index, p.size, p.proof.map(hexBytes), cp2.root)).toBe(true);
      }
      const c = (await (await get('/proof/consistency?from=3&to=5')).json()) as { proof: string[] };
      expect(verifyConsistency(3, 5, cp1.root, cp2.root, c.proof.map(hexBytes))).toBe(true);

      // Bad input: a clear error, nothing else.
      expect((await fetch(`${daemon.url}/v1/issuers/${makeIssuer().did}/checkpoint`)).status).toBe(404);
      expect((await get(`/proof/inclusion?id=${'0'.repeat(64)}`)).status).toBe(404);
      expect((await get('/proof/inclusion?id=xyz')).status).toBe(400);
      expect((await get(`/proof/inclusion?id=${a.id}&size=99`)).status).toBe(400);
      expect((await get('/proof/consistency?from=5&to=3')).status).toBe(400);
      expect((await get('/log?start=9')).status).toBe(400);
    } finally {
      await daemon.stop();
    }

    // A restart: the same leaves in the same order, the same checkpoint (it is less than a day old).
    daemon = await start(home);
    let ids: string[];
    try {
      ids = ((await (await fetch(`${daemon.url}/v1/issuers/${did}/log`)).json()) as { ids: string[] }).ids;
      expect(ids.length).toBe(5);
      expect(parseCheckpoint(parseNote(await (await fetch(`${daemon.url}/v1/issuers/${did}/checkpoint`)).text()).text).size).toBe(5);
      // The built CLI against the running node…
      const cp = await runCli(['log', 'checkpoint'], { home: home.root });
      expect(cp.code, cp.stderr).toBe(0);
      expect(parseCheckpoint(parseNote(cp.stdout).text)).toMatchObject({ origin: logOrigin(did), size: 5 });
      const pr = await runCli(['log', 'proof', ids[2]!], { home: home.root });
      expect(pr.code, pr.stderr).toBe(0);
      expect(pr.stdout).toMatch(/leaf 2 of 5[\s\S]*verified against the checkpoint/);
    } finally {
      await daemon.stop();
    }
    // …and on the data dir with no node running; bad input is refused with a clear message.
    const local = await runCli(['log', 'proof', ids[4]!, '--json'], { home: home.root });
    expect(local.code, local.stderr).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ index: 4, size: 5, verified: true });
    const bad = await runCli(['log', 'proof', 'nope'], { home: home.root });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/64 lowercase hex/);
    const absent = await runCli(['log', 'proof', '0'.repeat(64)], { home: home.root });
    expect(absent.code).not.toBe(0);
    expect(absent.stderr).toMatch(/not in this log/);
  });
});
