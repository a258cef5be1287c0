import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PickleWriter, writeGguf } from '../fixtures/scan/builders.js';
import { describeRun, makeInitialisedSandbox, type Sandbox } from './run-cli.js';

/** `chorus check`: the gate a runtime or a script calls before loading a model. */
const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

describe('chorus check', () => {
  test('deny-flagged: a clean unknown model is allowed, a flagged or dangerous one denied; allowlist: only approved models pass', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-check-');
    const approver = await makeInitialisedSandbox('chorus-e2e-check-');
    sandboxes.push(sb, approver);
    const model = join(sb.dir, 'model.gguf');
    await writeFile(model, writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }]], tensors: [{ name: 't', dims: [8], type: 0, offset: 0 }], dataBytes: 64 }));
    const evil = join(sb.dir, 'evil.pkl');
    await writeFile(evil, new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes());

    const ok = await sb.run(['check', model]);
    expect(ok.code, describeRun(['check', model], ok)).toBe(0);
    expect(ok.stdout).toMatch(/^ALLOW {2}.*model\.gguf/);
    const bad = await sb.run(['check', evil]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/^DENY/);
    expect(bad.stdout).toMatch(/inspection: .*dangerous-import.*os\.system/);

    // Your own key flags the model: denied by the view.
    const digest = (JSON.parse((await sb.expectCode(0, ['check', model, '--json'])).stdout) as { digest: string }).digest;
    await sb.expectCode(0, ['attest', 'audit', '--subject', digest, '--harness', 'jailbreak-suite@1', '--verdict', 'fail']);
    const flagged = await sb.run(['check', digest]);
    expect(flagged.code).toBe(3);
    expect(flagged.stdout).toMatch(/flagged in your view/);
    // Checked by its path, the same standing is said once, not once per way it was found.
    const byPath = await sb.run(['check', model]);
    expect(byPath.code).toBe(3);
    expect(byPath.stdout.match(/flagged in your view/g)).toHaveLength(1);

    // Allowlist mode: an approver approves a digest; only that one passes.
    const config = JSON.parse(await readFile(join(sb.home, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(sb.home, 'config.json'), JSON.stringify({ ...config, check: { mode: 'allowlist', approvers: [approver.did], failOn: ['flagged'] } }));
    const other = join(sb.dir, 'other.gguf');
    await writeFile(other, writeGguf({ kv: [['general.architecture', { t: 'str', v: 'qwen2' }]] }));
    const otherDigest = (JSON.parse((await sb.run(['check', other, '--json'])).stdout) as { digest: string }).digest;
    const refused = await sb.run(['check', other]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toContain('not approved by any of the configured approvers');
    await approver.expectCode(0, ['attest', 'approval', '--subject', otherDigest, '--name', 'acme/qwen', '--model-version', '0.5b', '--license', 'Apache-2.0']);
    const bundle = join(approver.dir, 'approvals.jsonl');
    await approver.expectCode(0, ['export', '-o', bundle]);
    await sb.expectCode(0, ['import', bundle]);
    const allowed = await sb.run(['check', other]);
    expect(allowed.code, describeRun(['check', other], allowed)).toBe(0);
    expect(allowed.stdout).toMatch(/approved by did:key:\S+ as acme\/qwen@0\.5b \(Apache-2\.0\)/);
    const listed = await sb.expectCode(0, ['list', '--approved']);
    expect(listed.stdout).toContain(otherDigest);
    // Not a model digest, not an existing path: not found (exit 4), never an allow.
    expect((await sb.run(['check', 'not-a-thing'])).code).toBe(4);
    // A malformed digest is a usage error.
    expect((await sb.run(['check', 'sha256:1234'])).code).toBe(2);
  }, 120_000);

  test('a directory is one model and every file in it can deny; hidden pickles, unknown imports and escape codes are caught', async () => {
    const sb = await makeInitialisedSandbox('chorus-e2e-check-');
    sandboxes.push(sb);
    const dir = join(sb.dir, 'model-dir');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'a.gguf'), writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }]] }));
    await writeFile(join(dir, 'z.pkl'), new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes());
    const d = await sb.run(['check', dir]);
    expect(d.code, describeRun(['check', dir], d)).toBe(3);
    expect(d.stdout).toMatch(/z\.pkl: critical dangerous-import/);
    // The directory's digest is what chorus hash prints (what an approval names).
    const hash = (await sb.expectCode(0, ['hash', dir])).stdout;
    expect(hash).toContain(JSON.parse((await sb.run(['check', dir, '--json'])).stdout).digest.slice(7));

    // A pickle that does not start with PROTO still runs under Python's loader.
    const hidden = join(sb.dir, 'weights.bin');
    await writeFile(hidden, new PickleWriter().raw(0x88, '0').global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes());
    const h = await sb.run(['check', hidden]);
    expect(h.code, describeRun(['check', hidden], h)).toBe(3);
    expect(h.stdout).toMatch(/read as a pickle/);
    // An import neither known dangerous nor allowed: the gate refuses it.
    const odd = join(sb.dir, 'odd.pkl');
    await writeFile(odd, new PickleWriter().proto(2).global('pydoc', 'pipepager').binUnicode('x').binUnicode('touch y').tuple2().reduce().stop().bytes());
    expect((await sb.run(['check', odd])).code).toBe(3);
    // Escape codes from a file are shown, not obeyed.
    const esc = join(sb.dir, 'esc.pkl');
    await writeFile(esc, new PickleWriter().proto(2).global('\x1b[2J\x1b]0;owned\x07evil', 'x').stop().bytes());
    const e = await sb.run(['check', esc]);
    expect(e.stdout).not.toContain('\x1b');
    expect(e.stdout).toContain('\\u001b');
    // No such file, and not a digest: not found (exit 4, as query, hash and scan say it), naming it.
    const n = await sb.run(['check', join(sb.dir, 'nope.gguf')]);
    expect(n.code).toBe(4);
    expect(n.stderr).toContain('no such file or directory, and not a sha256 digest');
  }, 120_000);
});
