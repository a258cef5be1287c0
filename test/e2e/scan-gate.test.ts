import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PickleWriter, writeGguf, writeZip } from '../fixtures/scan/builders.js';
import { makeInitialisedSandbox, type Sandbox } from './run-cli.js';

/*
 * A gate never passes a mistake (issue 22): `chorus scan` of a path that is not there, or
 * cannot be read, is an error with the exit code of the README's table, never "no model
 * files found" with exit 0, and it leaves the last good scan (what the web view lists) alone.
 */

const sandboxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

describe('chorus scan of a path that is not there', () => {
  test('a typo exits 4 and names the path; an unreadable directory exits 2; the last good scan stays', async () => {
    const sb = await makeInitialisedSandbox('chorus-scan-gate-');
    sandboxes.push(sb);
    const models = join(sb.dir, 'models');
    await mkdir(models);
    await writeFile(join(models, 'tiny.gguf'), writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }]], tensors: [{ name: 't', dims: [4], type: 0, offset: 0 }], dataBytes: 64 }));
    const good = await sb.expectCode(0, ['scan', models]);
    expect(good.stdout).toContain('tiny.gguf');
    const last = join(sb.home, 'scan-last.json');
    const before = await readFile(last, 'utf8');
    expect(JSON.parse(before).paths).toEqual([models]);

    const typo = await sb.run(['scan', join(sb.dir, 'modles')]);
    expect(typo.code).toBe(4);
    expect(typo.stderr).toContain('modles: no such file or directory');
    expect(typo.stdout).not.toContain('no model files found');
    // With --json too, and with a good path beside the typo: the whole scan is refused.
    expect((await sb.run(['scan', '--json', models, join(sb.dir, 'nope')])).code).toBe(4);
    expect(await readFile(last, 'utf8')).toBe(before);

    // Something that is neither a file nor a directory (a FIFO: reading it would hang): exit 2.
    const fifo = join(sb.dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const f = await sb.run(['scan', fifo]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('neither a file nor a directory');
    expect(await readFile(last, 'utf8')).toBe(before);

    // A directory this user cannot read (not when the tests run as root, who reads anything).
    if (process.getuid?.() !== 0) {
      const locked = join(sb.dir, 'locked');
      await mkdir(locked);
      await chmod(locked, 0o000);
      const r = await sb.run(['scan', locked]);
      await chmod(locked, 0o700);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('cannot be read');
      expect(await readFile(last, 'utf8')).toBe(before);
    }
  }, 60_000);
});

describe('your own inspection beside the network\'s view', () => {
  test('chorus query of a model this machine\'s scan found dangerous says so, labelled local and unsigned, with where the file lives', async () => {
    const sb = await makeInitialisedSandbox('chorus-scan-local-');
    sandboxes.push(sb);
    const dir = join(sb.dir, 'models');
    await mkdir(dir);
    const evil = new PickleWriter().proto(2).global('posix', 'system').binUnicode('echo pwned').tuple1().reduce().stop().bytes();
    const file = join(dir, 'model.pt');
    await writeFile(file, writeZip([{ name: 'archive/data.pkl', data: evil }, { name: 'archive/version', data: Buffer.from('3\n') }]));
    // The scan gates (exit 3: dangerous) and is kept as this machine's last.
    await sb.expectCode(3, ['scan', dir]);
    // No attestation about it anywhere: the network's view is unknown, and the local finding is shown beside it.
    const q = await sb.expectCode(0, ['query', file, '--no-lookup']);
    expect(q.stdout).toMatch(/^UNKNOWN/m);
    expect(q.stdout).toMatch(/ON THIS MACHINE \(local inspection, unsigned; chorus scan [^)]+\): DANGEROUS {2}.*model\.pt/);
    expect(q.stdout).toContain('posix');
    const j = JSON.parse((await sb.expectCode(0, ['query', file, '--json', '--no-lookup'])).stdout) as { status: string; local?: { label: string; models: { inspection: string; path: string }[] } };
    expect(j.status).toBe('unknown');
    expect(j.local?.models[0]).toMatchObject({ inspection: 'dangerous', path: file });
    expect(j.local?.label).toMatch(/local and unsigned/);
  }, 60_000);
});
