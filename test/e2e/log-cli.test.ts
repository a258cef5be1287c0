import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../node/daemon/daemon.js';
import { makeEnvelopeLine, makeIssuer, randomDigest } from '../support/fixtures.js';
import { serveLogPeer } from '../support/log-peer.js';
import { QUIET, TestNet } from '../support/test-net.js';
import { until as waitFor } from '../support/until.js';
import { describeRun, makeInitialisedSandbox, startDaemon, type RunningDaemon, type Sandbox } from './run-cli.js';

/*
 * The issuer-log commands as a user runs them (SPEC §16.4): `chorus log verify`, `chorus log
 * checkpoint`, `chorus query --fail-on …,incomplete` and `chorus trust explain`, through the
 * BUILT CLI against a node started with `chorus start` (a child process). That node mirrors
 * an issuer (a real node in this process) whose checkpoint and leaves it got from a bare
 * libp2p peer that withholds one statement; then it connects to the issuer's own node and
 * its copy becomes complete. Everything on loopback, real stores in temp dirs.
 */

const net = new TestNet({ ...QUIET, 'transparency.checkpointSeconds': 1, 'api.writeRateLimitPerMinute': 100_000 });
const sandboxes: Sandbox[] = [];
let node: RunningDaemon | undefined;

let issuer: Daemon;
let did: string;
let digest: string;
let retractionId: string;
let ids: string[];
let sb: Sandbox & { did: string };
let local: Sandbox & { did: string };

afterAll(async () => {
  if (node && node.child.exitCode === null && node.child.signalCode === null) {
    node.child.kill('SIGTERM');
    await Promise.race([once(node.child, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  }
  await net.stop();
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

const until = <T,>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> => waitFor(what, f, ms, { detail: () => node?.log().slice(-3000) ?? '' });

interface LogStatus {
  completeness: { state: string; verified: number; known: number; missing: number };
  missingIds: string[];
}

/** What the node under test says about the issuer's log (the test's own observation, over HTTP). */
async function status(): Promise<LogStatus | undefined> {
  const r = await fetch(`${node!.url}/v1/issuers/${did}/log/status`);
  return r.status === 200 ? ((await r.json()) as LogStatus) : undefined;
}

beforeAll(async () => {
  // The issuer: a real node that signed three audits (pass) and a retraction of the first, and a checkpoint of size 4.
  issuer = await net.node();
  did = issuer.node.identity.did;
  const me = makeIssuer(issuer.node.identity.secretKey);
  digest = randomDigest();
  const lines = [0, 1, 2].map((i) => makeEnvelopeLine(me, { subjects: [digest], issuedAt: new Date(Date.now() - 60_000 - i * 1000) }));
  ids = [];
  for (const l of lines) {
    const r = await issuer.node.ingestor.ingest(l);
    if (r.outcome !== 'accept') throw new Error(`not accepted: ${r.code}`);
    ids.push(r.id);
  }
  const retraction = makeEnvelopeLine(me, { kind: 'retraction', subjects: [digest], fields: { target: ids[0], reason: 'the audit ran the wrong file' } });
  const rr = await issuer.node.ingestor.ingest(retraction);
  if (rr.outcome !== 'accept') throw new Error(`retraction not accepted: ${rr.code}`);
  retractionId = rr.id;
  await issuer.ownLog.append([]);
  await issuer.ownLog.maybeSign(true);
  const note = await issuer.ownLog.checkpoint();
  if (issuer.ownLog.size !== 4) throw new Error(`issuer log size ${issuer.ownLog.size}`);

  // The withholding peer: the real checkpoint and all four leaves, every statement but the retraction.
  const withholder = await net.bareHost();
  await serveLogPeer(withholder, { notes: new Map([[did, note]]), leaves: new Map([[did, [...ids, retractionId]]]), envelopes: new Map(ids.map((id, i) => [id, lines[i]!])) });

  // The node under test: `chorus init`, a quiet network config, `chorus start`.
  sb = await makeInitialisedSandbox('chorus-log-cli-');
  sandboxes.push(sb);
  // A second home that never runs a node: it holds the same statements (imported) and trusts the issuer.
  local = await makeInitialisedSandbox('chorus-log-cli-local-');
  sandboxes.push(local);
  const file = join(local.dir, 'issuer.jsonl');
  await writeFile(file, [...lines, retraction].join('\n') + '\n');
  await local.expectCode(0, ['import', file]);
  await local.expectCode(0, ['trust', 'add', did]);
  const configPath = join(sb.home, 'config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as { net: Record<string, unknown> };
  Object.assign(config.net, { dht: false, autonat: false, upnp: false, relay: 'off', mdns: false, providers: false });
  await writeFile(configPath, JSON.stringify(config, null, 2));
  node = await startDaemon(sb);

  await sb.expectCode(0, ['trust', 'add', did]);
  const c = await sb.expectCode(0, ['connect', withholder.getMultiaddrs()[0]!.toString()]);
  expect(c.stdout).toContain(`connected to ${withholder.peerId.toString()}`);
  // The leaves verify against the signed root; three statements arrive, the retraction does not.
  await until('the node to hold 4 verified leaves with 1 statement missing', async () => {
    const s = await status();
    return s?.completeness.verified === 4 && s.completeness.missing === 1 && s.completeness.state === 'missing' ? s : undefined;
  });
}, 50_000);

describe('while a peer withholds one of the issuer\'s statements', () => {
  it('chorus log verify <did> exits 3, says MISSING 1 and names the missing id; --json and --no-fetch agree', async () => {
    const args = ['log', 'verify', did];
    const r = await sb.run(args);
    expect(r.code, describeRun(args, r)).toBe(3);
    expect(r.stdout).toContain(did);
    expect(r.stdout).toMatch(/^log: MISSING 1 of its statements \(checkpoint 4\b.*4 leaves verified\)/m);
    expect(r.stdout).toMatch(/^fetched now: \d+ leaf id\(s\), \d+ statement\(s\)$/m);
    expect(r.stdout).toMatch(new RegExp(`^still missing \\(1\\):\\n  ${retractionId}$`, 'm'));
    // The ids the withholder did serve are not listed as missing.
    for (const id of ids) expect(r.stdout).not.toContain(id);

    const jsonArgs = ['log', 'verify', did, '--json'];
    const j = await sb.run(jsonArgs);
    expect(j.code, describeRun(jsonArgs, j)).toBe(3);
    const parsed = JSON.parse(j.stdout) as LogStatus & { fetched: { leaves: number; envelopes: number } };
    expect(parsed.completeness).toMatchObject({ state: 'missing', missing: 1, verified: 4, known: 4 });
    expect(parsed.missingIds).toEqual([retractionId]);
    expect(typeof parsed.fetched.envelopes).toBe('number');

    const noFetchArgs = ['log', 'verify', did, '--no-fetch'];
    const n = await sb.run(noFetchArgs);
    expect(n.code, describeRun(noFetchArgs, n)).toBe(3);
    expect(n.stdout).toMatch(/^log: MISSING 1 of its statements/m);
    expect(n.stdout).toContain(retractionId);
    // Nothing was fetched, so the command does not claim to have fetched.
    expect(n.stdout).not.toContain('fetched now');
  });

  it('chorus query --fail-on incomplete exits 3 and says why on stderr; the plain query prints INCOMPLETE', async () => {
    const args = ['query', `sha256:${digest}`, '--fail-on', 'incomplete'];
    const r = await sb.run(args);
    expect(r.code, describeRun(args, r)).toBe(3);
    expect(r.stderr).toMatch(/^incomplete: \S.*$/m);
    // The verdict itself is not what failed: the pass audits count.
    expect(r.stdout).not.toMatch(/^FLAGGED/);

    const both = ['query', `sha256:${digest}`, '--fail-on', 'caution,incomplete'];
    const b = await sb.run(both);
    expect(b.code, describeRun(both, b)).toBe(3);
    expect(b.stderr).toMatch(/^incomplete: /m);

    // Without ",incomplete" the same view passes the default gate: the gate is what fails above.
    const plainArgs = ['query', `sha256:${digest}`];
    const plain = await sb.run(plainArgs);
    expect(plain.code, describeRun(plainArgs, plain)).toBe(0);
    expect(plain.stdout).toMatch(/^INCOMPLETE: \S/m);
    expect(plain.stdout).not.toMatch(/^COMPLETE:/m);
    expect(plain.stdout).toMatch(/log: MISSING 1 of its statements/);

    for (const bad of ['bogus', 'flagged,caution', 'incomplete,bogus']) {
      const a = ['query', `sha256:${digest}`, '--fail-on', bad];
      const u = await sb.run(a);
      expect(u.code, describeRun(a, u)).toBe(2);
      expect(u.stderr).toMatch(/--fail-on/);
      expect(u.stdout).toBe('');
    }
  });

  it('chorus log checkpoint <did> --json shows the issuer\'s checkpoint with this node\'s cosignature; unknown did 4, malformed did 2', async () => {
    const args = ['log', 'checkpoint', did, '--json'];
    const r = await sb.run(args);
    expect(r.code, describeRun(args, r)).toBe(0);
    const c = JSON.parse(r.stdout) as { origin: string; size: number; root: string; time: string | null; witnesses: { witness: string; time: string }[]; note: string };
    expect(c.origin).toBe(`chorus-log/${did}`);
    expect(c.size).toBe(4);
    expect(c.root).toMatch(/^[0-9a-f]{64}$/);
    expect(c.witnesses.map((w) => w.witness)).toContain(sb.did);
    expect(c.note.startsWith(`chorus-log/${did}\n4\n`)).toBe(true);
    // The same root as the issuer's own checkpoint: the node mirrored it, not made one up.
    const own = (await issuer.ownLog.checkpoint()).split('\n');
    expect(Buffer.from(own[2]!, 'base64').toString('hex')).toBe(c.root);

    // The text form is the signed note itself.
    const text = await sb.expectCode(0, ['log', 'checkpoint', did]);
    expect(text.stdout).toBe(c.note);

    const stranger = makeIssuer().did;
    const nf = await sb.run(['log', 'checkpoint', stranger, '--json']);
    expect(nf.code, describeRun(['log', 'checkpoint', stranger], nf)).toBe(4);
    expect(nf.stdout).toBe('');

    for (const bad of ['did:key:nope', 'not-a-did']) {
      const m = await sb.run(['log', 'checkpoint', bad]);
      expect(m.code, describeRun(['log', 'checkpoint', bad], m)).toBe(2);
      expect(m.stderr).toContain('not an Ed25519 did:key');
    }
    const mv = await sb.run(['log', 'verify', 'did:key:nope']);
    expect(mv.code, describeRun(['log', 'verify', 'did:key:nope'], mv)).toBe(2);
  });

  it('chorus trust explain <did> shows the issuer\'s log line', async () => {
    const r = await sb.expectCode(0, ['trust', 'explain', did]);
    expect(r.stdout).toMatch(/^log: MISSING 1 of its statements \(checkpoint 4\b/m);
  });
});

describe('with no node running (local mode)', () => {
  it('query --fail-on incomplete exits 3 because completeness cannot be established; log verify says no node is running', async () => {
    // The local sandbox holds the same audits (imported), so the verdict alone would pass.
    const q = ['query', `sha256:${digest}`, '--fail-on', 'incomplete', '--no-lookup'];
    const r = await local.run(q);
    expect(r.code, describeRun(q, r)).toBe(3);
    expect(r.stderr).toMatch(/incomplete: .*completeness cannot be established/);
    // Without the gate the same query passes.
    const plain = await local.run(['query', `sha256:${digest}`, '--no-lookup']);
    expect(plain.code, describeRun(['query'], plain)).toBe(0);
    expect(plain.stdout).toMatch(/^OK /);

    const v = await local.run(['log', 'verify', did]);
    expect(v.code, describeRun(['log', 'verify', did], v)).toBe(1);
    expect(v.stderr).toMatch(/no node is running/);
    expect(v.stdout).toBe('');
    // A mirrored log lives in the running node too.
    const c = await local.run(['log', 'checkpoint', did]);
    expect(c.code, describeRun(['log', 'checkpoint', did], c)).toBe(1);
    expect(c.stderr).toMatch(/no node is running/);
  });
});

describe('once the node reaches a peer that has the withheld statement', () => {
  it('log verify exits 0 and says complete through checkpoint 4; query --fail-on incomplete passes and prints COMPLETE', async () => {
    const before = await sb.run(['query', `sha256:${digest}`]);
    expect(before.stdout).toMatch(/^INCOMPLETE:/m);

    await sb.expectCode(0, ['connect', issuer.network!.listenAddrs[0]!]);
    await until('the copy to be complete', async () => ((await status())?.completeness.state === 'complete' ? true : undefined));

    const args = ['log', 'verify', did];
    const r = await sb.run(args);
    expect(r.code, describeRun(args, r)).toBe(0);
    expect(r.stdout).toMatch(/^log: complete through checkpoint 4\b/m);
    expect(r.stdout).not.toContain('still missing');
    const j = JSON.parse((await sb.expectCode(0, ['log', 'verify', did, '--json', '--no-fetch'])).stdout) as LogStatus;
    expect(j.completeness).toMatchObject({ state: 'complete', missing: 0, verified: 4 });
    expect(j.missingIds).toEqual([]);

    const q = ['query', `sha256:${digest}`, '--fail-on', 'incomplete'];
    const g = await sb.run(q);
    expect(g.code, describeRun(q, g)).toBe(0);
    expect(g.stderr).not.toMatch(/incomplete/);
    await sb.expectCode(0, ['query', `sha256:${digest}`, '--fail-on', 'caution,incomplete']);

    const after = await sb.expectCode(0, ['query', `sha256:${digest}`]);
    expect(after.stdout).toMatch(/^COMPLETE: \S/m);
    expect(after.stdout).not.toMatch(/^INCOMPLETE:/m);
    // The retraction arrived with it: the audit it withdraws stops counting.
    expect(after.stdout).toContain(`does not count: retracted by ${retractionId.slice(0, 12)}`);

    const explain = await sb.expectCode(0, ['trust', 'explain', did]);
    expect(explain.stdout).toMatch(/^log: complete through checkpoint 4\b/m);
  });
});
