import { createHash } from 'node:crypto';
import { cp, readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { pae } from '../../src/dsse/pae.js';
import type { Daemon } from '../../node/daemon/daemon.js';
import { startDaemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { installNodeKeys, readNodeKeys } from '../../node/home/key-backup.js';
import type { Mirror } from '../../node/tlog/mirror.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { NetHarness } from '../support/net-harness.js';
import { until as waitFor } from '../support/until.js';

/*
 * Framing an honest issuer without forging anything (SPEC §16.2, §16.5): the README's way
 * of moving a node to a new machine ("chorus key import … The attestation store is not in
 * the backup: copy store/ with the node stopped, or let the new node sync from its peers")
 * rebuilds the node's own log from the store, in (issuedAt, id) order — not the order the
 * node accepted it in (issuedAt has whole seconds: statements signed in one second keep
 * the order of their ids). The moved node then signs a second history of the same size, and every
 * node that mirrored the first catches "an equivocation" and stops counting the issuer.
 */

const net = new NetHarness({ 'transparency.checkpointSeconds': 1, 'api.writeRateLimitPerMinute': 100_000 });
afterAll(() => net.stop());

const mirrorOf = (d: Daemon): Mirror => (d.network!.logSync as unknown as { mirror: Mirror }).mirror;
const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> => waitFor(what, f, ms);

describe('moving a node as the README says', () => {
  it('an honest issuer that moves its key (chorus key import) and copies store/ recovers its log\'s order from a mirror: nobody catches it "equivocating"', async () => {
    const overrides = { 'api.port': 0, 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.dht': false, 'net.upnp': false, 'net.autonat': false, 'net.relay': 'off', 'transparency.checkpointSeconds': 1 };
    const homeA = resolveHome({}, await net.dir('chorus-tlog-old-'));
    await initHome(homeA);
    let a = await startDaemon(homeA, { env: {}, overrides, logger: makeLogger('silent', false) });
    const did = a.node.identity.did;
    const me = makeIssuer(a.node.identity.secretKey);
    const digest = randomDigest();
    // Three statements signed within one second (issuedAt has whole seconds: a script
    // attesting three files does this); the log's order is the order they were accepted,
    // here not the order of their ids (one case in six, for three).
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 5_000);
    const lines = [0, 1, 2].map((i) => makeEnvelopeLine(me, { subjects: [digest], issuedAt: at, fields: exampleFields('audit', { metrics: { run: i } }) }));
    const idOf = (line: string) => {
      const e = JSON.parse(line) as { payloadType: string; payload: string };
      return createHash('sha256').update(pae(e.payloadType, Buffer.from(e.payload, 'base64'))).digest('hex');
    };
    lines.sort((x, y) => (idOf(x) < idOf(y) ? 1 : -1));
    for (const line of lines) {
      const r = await a.node.ingestor.ingest(line);
      expect(r.outcome).toBe('accept');
    }
    await a.ownLog.append([]);
    await a.ownLog.maybeSign(true);
    expect(a.ownLog.size).toBe(3);

    // A node that counts the issuer mirrors its log.
    const m = await net.node();
    const token = (await readFile(m.node.home.token, 'utf8')).trim();
    const t = await fetch(`${m.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: did }) });
    expect(t.status).toBe(200);
    await m.network!.connect(a.network!.listenAddrs[0]!);
    await until('the mirror to hold the issuer\'s log', () => (mirrorOf(m).completeness(did).state === 'complete' && mirrorOf(m).size(did) === 3 ? true : undefined));
    await a.stop();

    // The move: the keys as `chorus key import` installs them, then store/ copied with the
    // node stopped (log/ left behind).
    const homeB = resolveHome({}, await net.dir('chorus-tlog-new-'));
    await installNodeKeys(homeB, await readNodeKeys(homeA));
    await cp(homeA.store, homeB.store, { recursive: true });
    a = await startDaemon(homeB, { env: {}, overrides, logger: makeLogger('silent', false) });
    try {
      expect(a.node.identity.did).toBe(did);
      // It signs nothing until it has its log back from a peer that mirrors it…
      expect(a.ownLog.recovering).toBe(true);
      await expect(a.ownLog.checkpoint()).rejects.toThrow(/recovering/);
      await m.network!.connect(a.network!.listenAddrs[0]!);
      // …and then holds it in the order it had, not rebuilt from the store.
      await until('the moved node to recover its log', () => (a.ownLog.recovering ? undefined : true));
      expect(a.ownLog.size).toBe(3);
      expect(a.ownLog.leafIds(0)).toEqual(await mirrorOf(m).leafIds(did, 0, 3));
      await new Promise((r) => setTimeout(r, 2_000));
      const held = ((await (await fetch(`${m.url}/v1/equivocations`)).json()) as { items: { issuer: string }[] }).items;
      const v = (await (await fetch(`${m.url}/v1/models/sha256:${digest}/reputation?lookup=false`)).json()) as { completeness: { summary: string }; byPredicate: Record<string, { attestations: { issuer: string; counts: boolean }[] }> };
      console.log(`[tlog-moved] the mirror after the move: proofs against the issuer ${held.filter((x) => x.issuer === did).length}; its statements counting: ${v.byPredicate['audit']?.attestations.filter((x) => x.issuer === did && x.counts).length ?? 0}/3; "${v.completeness.summary}"`);
      expect(held.map((x) => x.issuer), 'an equivocation proof against an issuer that never signed two histories on purpose').not.toContain(did);
    } finally {
      await a.stop();
    }
  }, 45_000);
});
