import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeRun, idIn, makeInitialisedSandbox, sha256Hex, type Sandbox } from './run-cli.js';

/**
 * Issue 12's "done when", end to end through the built CLI: a user trusts a curator on
 * payload findings only, sees a scan finding from an issuer the curator endorses counted
 * with its path, a contradicting verdict side by side as disputed, a quantized GGUF
 * inheriting its base model's de-alignment finding, and asks "what if I ignore this issuer".
 */

const sandboxes: Sandbox[] = [];
async function who(): Promise<Sandbox & { did: string }> {
  const sb = await makeInitialisedSandbox('chorus-e2e-rep-');
  sandboxes.push(sb);
  return sb;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

/** Everything `from` signed, exported and imported by `to`. */
async function ship(from: Sandbox & { did: string }, to: Sandbox): Promise<void> {
  const file = join(from.dir, `out-${Math.random().toString(16).slice(2)}.jsonl`);
  await from.expectCode(0, ['export', '--issuer', from.did, '-o', file]);
  await to.expectCode(0, ['import', file]);
}

interface Item { id: string; issuer: string; counts: boolean; reason: string; weight?: number; verdict?: string; trust?: { path: { from: string; to: string }[] }; inherited?: { from: string; relation: string } }
interface View { status: string; reason: string; disputes: { kind: string; fail: { issuer: string }[]; pass: { issuer: string }[] }[]; byPredicate: Record<string, { status: string; attestations: Item[] }>; without?: string }

async function viewOf(sb: Sandbox, digest: string, extra: string[] = []): Promise<{ code: number | null; view: View }> {
  const args = ['query', '--json', `sha256:${digest}`, ...extra];
  const r = await sb.run(args);
  if (r.code !== 0 && r.code !== 3) throw new Error(describeRun(args, r));
  return { code: r.code, view: JSON.parse(r.stdout) as View };
}

describe('your own trust graph, from the command line', () => {
  test('a curator trusted on payload only: its endorsed scanner counts with its path; a dissent is disputed; what-if', async () => {
    const [user, curator, scanner, dissenter] = await Promise.all([who(), who(), who(), who()]);
    const model = sha256Hex('a model with a pickle');
    await scanner.expectCode(0, ['attest', 'payload', '--subject', `sha256:${model}`, '--scanner', 'picklescan@0.0.14', '--finding', 'pickle-exec', '--severity', 'critical', '--description', 'os.system in data.pkl']);
    await scanner.expectCode(0, ['attest', 'audit', '--subject', `sha256:${model}`, '--harness', 'lm-eval@0.4.2', '--verdict', 'fail']);
    await curator.expectCode(0, ['attest', 'endorsement', '--endorsed', scanner.did, '--scope', 'payload', '--weight', '0.9']);
    for (const s of [scanner, curator]) await ship(s, user);

    // A newcomer: nothing counts, and the view says what exists and how to start trusting.
    const before = await user.expectCode(0, ['query', `sha256:${model}`]);
    expect(before.stdout).toMatch(/^UNKNOWN/);
    expect(before.stdout).toContain('from issuers you do not trust');

    expect((await user.expectCode(0, ['trust', 'add', curator.did, '--scope', 'payload', '--note', 'curator'])).stdout).toContain('on payload at weight 1');
    const q = await viewOf(user, model);
    expect(q.code).toBe(3);
    expect(q.view.status).toBe('flagged');
    const finding = q.view.byPredicate['payload']!.attestations[0]!;
    expect(finding).toMatchObject({ issuer: scanner.did, counts: true, reason: 'trusted' });
    expect(finding.trust!.path).toEqual([expect.objectContaining({ from: curator.did, to: scanner.did })]);
    // The curator is trusted on payload only: the scanner's audit does not count.
    expect(q.view.byPredicate['audit']!.attestations[0]).toMatchObject({ counts: false, reason: 'untrusted' });
    const explained = await user.run(['query', `sha256:${model}`, '--explain']);
    expect(explained.code).toBe(3);
    expect(explained.stdout).toMatch(/trust in payload: 0\.\d+ via curator -\(0\.9\)-> did:key:\S+/);
    expect(explained.stdout).toContain('pickle-exec (critical)  "os.system in data.pkl"');
    const ex = await user.expectCode(0, ['trust', 'explain', scanner.did]);
    expect(ex.stdout).toMatch(/^ {2}payload +0\.\d+/m);
    expect(ex.stdout).toContain('role: endorsed');

    // A dissenter the curator also endorses says the file is clean: disputed, both sides shown.
    await dissenter.expectCode(0, ['attest', 'payload', '--subject', `sha256:${model}`, '--scanner', 'modelscan@0.8', '--finding', 'clean', '--severity', 'info', '--description', 'no dangerous imports']);
    await curator.expectCode(0, ['attest', 'endorsement', '--endorsed', dissenter.did, '--scope', 'payload', '--weight', '0.9']);
    for (const s of [dissenter, curator]) await ship(s, user);
    const d = await viewOf(user, model);
    expect(d.code).toBe(0); // --fail-on flagged (the default) lets a dispute pass ...
    expect(d.view.status).toBe('disputed');
    expect(d.view.disputes).toEqual([{ kind: 'payload', fail: [expect.objectContaining({ issuer: scanner.did })], pass: [expect.objectContaining({ issuer: dissenter.did })] }]);
    expect((await user.run(['query', `sha256:${model}`, '--fail-on', 'disputed'])).code).toBe(3); // ... a stricter gate does not
    expect((await user.expectCode(0, ['query', `sha256:${model}`])).stdout).toMatch(/dispute on payload: FAIL .* vs {2}pass /);

    // What if I ignore the dissenter?
    const w = await viewOf(user, model, ['--without', dissenter.did]);
    expect(w.view).toMatchObject({ status: 'flagged', without: dissenter.did });
    // Blocking the scanner beats the curator's endorsement.
    await user.expectCode(0, ['trust', 'block', scanner.did]);
    expect((await viewOf(user, model)).view.status).toBe('ok');
    expect((await user.expectCode(0, ['trust', 'list'])).stdout).toMatch(/^block {6}did:key/m);
  }, 180_000);

  test('a quantized GGUF inherits its base model\'s de-alignment finding through a trusted lineage claim', async () => {
    const [user, lab] = await Promise.all([who(), who()]);
    const base = sha256Hex('base model weights');
    const quant = sha256Hex('base model, Q4_K_M');
    await lab.expectCode(0, ['attest', 'dealignment', '--subject', `sha256:${base}`, '--base', sha256Hex('the aligned original'), '--method', 'abliteration', '--evidence', 'refusal direction removed']);
    await lab.expectCode(0, ['attest', 'lineage', '--subject', `sha256:${quant}`, '--from', `sha256:${base}`, '--relation', 'quantized']);
    await ship(lab, user);
    expect((await viewOf(user, quant)).view.status).toBe('unknown');
    await user.expectCode(0, ['trust', 'add', lab.did, '--note', 'the lab']);
    const q = await viewOf(user, quant);
    expect(q.code).toBe(3);
    expect(q.view.status).toBe('flagged');
    const inherited = q.view.byPredicate['dealignment']!.attestations[0]!;
    expect(inherited).toMatchObject({ counts: true, inherited: { from: `sha256:${base}`, relation: 'quantized' } });
    expect(q.view.reason).toContain(`inherited from sha256:${base} (quantized)`);
    const text = await user.run(['query', `sha256:${quant}`]);
    expect(text.stdout).toContain(`inherited from sha256:${base} (quantized), lineage by`);
  }, 120_000);

  test('a version-1 trust list migrates on first read, nothing lost; bad edits change nothing', async () => {
    const [user, lab] = await Promise.all([who(), who()]);
    await writeFile(join(user.home, 'trust.json'), JSON.stringify({ issuers: [{ issuer: lab.did, note: 'old friend', addedAt: '2026-01-01T00:00:00Z' }] }));
    const list = JSON.parse((await user.expectCode(0, ['trust', 'list', '--json'])).stdout) as { policy: { version: number; roots: unknown[] } };
    expect(list.policy).toMatchObject({ version: 2, roots: [{ issuer: lab.did, scope: ['*'], weight: 1, note: 'old friend', addedAt: '2026-01-01T00:00:00Z' }] });
    for (const bad of [['trust', 'add', lab.did, '--scope', 'nonsense'], ['trust', 'add', lab.did, '--weight', '2'], ['trust', 'subscribe', 'did:key:nope']]) {
      const r = await user.run(bad);
      expect(r.code, describeRun(bad, r)).toBe(2);
    }
    expect(JSON.parse((await user.expectCode(0, ['trust', 'list', '--json'])).stdout)).toEqual(list);
    const id = idIn((await lab.expectCode(0, ['attest', 'audit', '--subject', `sha256:${sha256Hex('m')}`, '--harness', 'x@1', '--verdict', 'pass'])).stdout);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});
