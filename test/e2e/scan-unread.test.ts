import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { writeGguf } from '../fixtures/scan/builders.js';
import { makeInitialisedSandbox, type Sandbox } from './run-cli.js';

/*
 * "Nothing found" must mean nothing was there (issue 22, found by the attack review): a scan
 * of a named directory where something could not be read — a model file that is a dangling
 * link, a FIFO named like a model — exits 2, says what was not read, and keeps the last scan.
 * (A directory or file this user may not read is the same rule; as root, which these tests
 * may run as, nothing is unreadable, so the cases here are ones root cannot read either.)
 */

const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

describe('a scan that could not read everything passes nothing', () => {
  test('a dangling link and a FIFO named like model files: exit 2, each named, the last good scan kept; --dry-run alone is refused', async () => {
    const sb = await makeInitialisedSandbox('chorus-scan-unread-');
    sandboxes.push(sb);
    const good = join(sb.dir, 'good');
    await mkdir(good);
    await writeFile(join(good, 'tiny.gguf'), writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }]], tensors: [{ name: 't', dims: [4], type: 0, offset: 0 }], dataBytes: 64 }));
    await sb.expectCode(0, ['scan', good]);
    const last = join(sb.home, 'scan-last.json');
    const before = await readFile(last, 'utf8');

    // Only unreadable things: before, "no model files found" and exit 0.
    const bad = join(sb.dir, 'bad');
    await mkdir(bad);
    await symlink(join(sb.dir, 'gone', 'pytorch_model.bin'), join(bad, 'pytorch_model.bin'));
    execFileSync('mkfifo', [join(bad, 'model.safetensors')]);
    const r = await sb.run(['scan', bad]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('not everything was read');
    expect(r.stderr).toContain('pytorch_model.bin');
    expect(r.stderr).toContain('model.safetensors');
    expect(await readFile(last, 'utf8')).toBe(before);

    // Beside a good model the rule is the same: what was read is reported, the gate does not pass.
    await writeFile(join(bad, 'tiny.gguf'), await readFile(join(good, 'tiny.gguf')));
    const mixed = await sb.run(['scan', '--json', bad]);
    expect(mixed.code).toBe(2);
    expect((JSON.parse(mixed.stdout) as { models: { name: string }[] }).models.map((m) => m.name)).toContain('tiny.gguf');
    expect(await readFile(last, 'utf8')).toBe(before);

    // --dry-run prints what --attest would publish: alone it is a mistake, said so.
    const dry = await sb.run(['scan', '--dry-run', good]);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain('--dry-run goes with --attest');
  }, 60_000);
});
