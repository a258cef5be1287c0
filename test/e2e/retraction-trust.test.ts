import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeRun, idIn, makeInitialisedSandbox, sha256Hex, type Sandbox } from './run-cli.js';

/** Retractions and the trust list, end to end through the built CLI. */

const sandboxes: Sandbox[] = [];
async function initialised(): Promise<Sandbox & { did: string }> {
  const sb = await makeInitialisedSandbox();
  sandboxes.push(sb);
  return sb;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

interface Evidence {
  id: string;
  issuer: string;
  verdict?: string;
  counts: boolean;
  reason: string;
  retractedBy?: string;
}
interface ViewJson {
  status: string;
  trustedIssuers: number;
  byPredicate: Record<string, { summary: string; counted: number; total: number; attestations: Evidence[] }>;
}

async function view(sb: Sandbox, digest: string): Promise<{ code: number | null; view: ViewJson }> {
  const r = await sb.run(['query', '--json', `sha256:${digest}`]);
  if (r.code !== 0 && r.code !== 3) throw new Error(describeRun(['query', '--json', digest], r));
  return { code: r.code, view: JSON.parse(r.stdout) as ViewJson };
}

function evidence(v: ViewJson, group: string, id: string): Evidence | undefined {
  return v.byPredicate[group]?.attestations.find((a) => a.id === id);
}

/** A attests `verdict` about `digest`, exports everything, B imports it. Returns A's id. */
async function attestAndShip(a: Sandbox, b: Sandbox, digest: string, verdict: string, name: string): Promise<string> {
  const id = idIn((await a.expectCode(0, ['attest', 'audit', '--subject', `sha256:${digest}`, '--harness', 'x@1', '--verdict', verdict])).stdout);
  const file = join(a.dir, `${name}.jsonl`);
  await a.expectCode(0, ['export', '--issuer', (await a.expectCode(0, ['id'])).stdout.trim(), '-o', file]);
  const im = await b.expectCode(0, ['import', file]);
  expect(im.stdout).toMatch(/: [1-9]\d* accepted/);
  return id;
}

describe.concurrent('retraction', () => {
  test('retracting your own attestation: it stops counting (reason retracted) and the model is no longer flagged', async () => {
    const a = await initialised();
    const digest = sha256Hex('retracted model');
    const id = idIn((await a.expectCode(0, ['attest', 'audit', '--subject', `sha256:${digest}`, '--harness', 'x@1', '--verdict', 'fail'])).stdout);
    expect((await view(a, digest)).code).toBe(3);

    const r = await a.expectCode(0, ['attest', 'retraction', '--target', id, '--reason', 'wrong model']);
    expect(r.stdout).toMatch(/^stored retraction attestation [0-9a-f]{64}$/m);
    const retractionId = idIn(r.stdout);

    const { code, view: v } = await view(a, digest);
    expect(code).toBe(0);
    expect(v.status).toBe('unknown');
    expect(evidence(v, 'audit', id)).toMatchObject({ counts: false, reason: 'retracted', retractedBy: retractionId });
    expect(v.byPredicate['audit']).toMatchObject({ summary: 'none', counted: 0, total: 1 });
    // Retractions are not a group of their own: they show on what they withdraw.
    expect(v.byPredicate['retraction']).toBeUndefined();

    const text = await a.expectCode(0, ['query', `sha256:${digest}`]);
    expect(text.stdout).not.toContain('FLAGGED');
    expect(text.stdout).toContain(`does not count: retracted by ${retractionId.slice(0, 12)}`);
    const show = await a.expectCode(0, ['show', id]);
    expect(show.stdout).toContain(`retracted by: ${retractionId}`);

    // A retraction cannot itself be retracted.
    const again = await a.run(['attest', 'retraction', '--target', retractionId]);
    expect(again.code, describeRun(['attest', 'retraction'], again)).toBe(5);
    expect(again.stderr).toContain('retraction_bad_target');
  });

  test("retracting someone else's attestation is rejected (exit 5, retraction_not_owner) and changes nothing", async () => {
    const [a, b] = await Promise.all([initialised(), initialised()]);
    const digest = sha256Hex("A's model");
    const id = await attestAndShip(a, b, digest, 'fail', 'a-bundle');
    await b.expectCode(0, ['trust', 'add', a.did]);
    expect((await view(b, digest)).code).toBe(3);

    const r = await b.run(['attest', 'retraction', '--target', id]);
    expect(r.code, describeRun(['attest', 'retraction', '--target', id], r)).toBe(5);
    expect(r.stderr).toContain('retraction_not_owner');
    expect(r.stdout).not.toContain('stored');

    const { code, view: v } = await view(b, digest);
    expect(code).toBe(3);
    expect(evidence(v, 'audit', id)).toMatchObject({ counts: true, reason: 'trusted' });
    expect(v.byPredicate['retraction']).toBeUndefined();
    const list = JSON.parse((await b.expectCode(0, ['list', '--json', '--issuer', b.did])).stdout) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });
});

describe.concurrent('trust', () => {
  test('an imported attestation by another issuer counts only while that issuer is trusted', async () => {
    const [a, b] = await Promise.all([initialised(), initialised()]);
    const digest = sha256Hex('model judged by A');
    const id = await attestAndShip(a, b, digest, 'fail', 'trust-bundle');

    let q = await view(b, digest);
    expect(q.code).toBe(0);
    expect(q.view.status).toBe('unknown');
    expect(q.view.trustedIssuers).toBe(1); // only B itself
    expect(evidence(q.view, 'audit', id)).toMatchObject({ issuer: a.did, counts: false, reason: 'untrusted' });
    const untrustedText = await b.expectCode(0, ['query', `sha256:${digest}`]);
    expect(untrustedText.stdout).toContain('does not count: untrusted');

    const add = await b.expectCode(0, ['trust', 'add', a.did, '--note', 'red team A']);
    expect(add.stdout.trim()).toBe(`trusted ${a.did} on * at weight 1`);
    const list = await b.expectCode(0, ['trust', 'list']);
    expect(list.stdout).toContain(a.did);
    expect(list.stdout).toContain('red team A');

    q = await view(b, digest);
    expect(q.code).toBe(3);
    expect(q.view.status).toBe('flagged');
    expect(q.view.trustedIssuers).toBe(2);
    expect(evidence(q.view, 'audit', id)).toMatchObject({ counts: true, reason: 'trusted' });
    expect((await b.run(['query', `sha256:${digest}`])).stdout).toContain('FLAGGED');

    const rm = await b.expectCode(0, ['trust', 'remove', a.did]);
    expect(rm.stdout.trim()).toBe(`removed ${a.did} from your trust policy`);
    q = await view(b, digest);
    expect(q.code).toBe(0);
    expect(q.view.status).toBe('unknown');
    expect(evidence(q.view, 'audit', id)).toMatchObject({ counts: false, reason: 'untrusted' });
    expect((await b.expectCode(0, ['trust', 'list'])).stdout).not.toContain(a.did);

    // removing again: not on the list -> not found
    const rm2 = await b.run(['trust', 'remove', a.did]);
    expect(rm2.code).toBe(4);
    expect(rm2.stderr).toContain('is not on your trust policy');
  });

  test('trust add not-a-did exits 2 with a clear message and leaves the trust list alone', async () => {
    const b = await initialised();
    const r = await b.run(['trust', 'add', 'not-a-did']);
    expect(r.code, describeRun(['trust', 'add', 'not-a-did'], r)).toBe(2);
    expect(r.stderr).toContain('not an Ed25519 did:key: "not-a-did"');
    const list = JSON.parse((await b.expectCode(0, ['trust', 'list', '--json'])).stdout) as { issuers: unknown[]; self: string };
    expect(list).toMatchObject({ self: b.did, issuers: [], policy: { version: 2, roots: [], blocks: [], subscriptions: [] } });
    // a damaged (truncated) did:key is refused too
    const r2 = await b.run(['trust', 'add', b.did.slice(0, -4)]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('not an Ed25519 did:key');
  });
});
