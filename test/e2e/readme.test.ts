import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeGguf, writeSafetensors } from '../fixtures/scan/builders.js';
import { CLI_PATH, ISOLATED_ENV, REPO_ROOT } from './run-cli.js';

/**
 * README.md's command blocks, run as written. Every ```sh block runs, in order, in one bash
 * session (`set -euo pipefail`: a failing command fails the test), with `chorus` on the
 * PATH as an installed command would be, HOME a temp dir, and `models/` holding a GGUF file
 * and a model directory (the user's own models). A block preceded by
 *   <!-- readme-test: not run: REASON -->     is skipped, and must say why;
 *   <!-- readme-test: background: REASON -->  runs in the background (a node), stopped at the end.
 */

interface Block { line: number; code: string; mode: 'run' | 'not run' | 'background'; reason: string }

function blocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    let j = i - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const marker = /^<!-- readme-test: (not run|background): (.*) -->$/.exec(lines[j] ?? '');
    out.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), mode: (marker?.[1] as Block['mode'] | undefined) ?? 'run', reason: marker?.[2] ?? '' });
    i = end;
  }
  return out;
}

/** The bash script: each block announced, background blocks started and waited for. */
function script(all: Block[]): string {
  const parts = ['set -euo pipefail', 'NODE_PIDS=()', 'trap \'for p in "${NODE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait\' EXIT'];
  for (const b of all) {
    if (b.mode === 'not run') continue;
    parts.push(`echo "### README block at line ${b.line}"`);
    if (b.mode === 'background') {
      for (const cmd of b.code.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean)) {
        parts.push(`${cmd} >>"$READMETEST_LOG" 2>&1 & NODE_PIDS+=($!)`);
        parts.push('for _ in $(seq 300); do [ -f "$CHORUS_HOME/daemon.json" ] && break; sleep 0.1; done; [ -f "$CHORUS_HOME/daemon.json" ] || { cat "$READMETEST_LOG"; exit 1; }');
      }
    } else {
      parts.push(b.code);
    }
  }
  parts.push('echo "### README done"');
  return parts.join('\n') + '\n';
}

let work: string;
let readme: string;

beforeAll(async () => {
  readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  work = await mkdtemp(join(tmpdir(), 'chorus-readme-'));
  // `chorus` as the installed command is: the built program, in a Node 22.
  await mkdir(join(work, 'bin'));
  await writeFile(join(work, 'bin', 'chorus'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
  await chmod(join(work, 'bin', 'chorus'), 0o755);
  // The user's models.
  const cwd = join(work, 'cwd');
  await mkdir(join(cwd, 'models', 'llama-3-8b'), { recursive: true });
  await writeFile(join(cwd, 'models', 'llama-3-8b.Q4_K_M.gguf'), writeGguf({
    kv: [['general.architecture', { t: 'str', v: 'llama' }], ['general.name', { t: 'str', v: 'Llama 3 8B' }]],
    tensors: [{ name: 'token_embd.weight', dims: [64, 16], type: 0, offset: 0 }],
    dataBytes: 64 * 16 * 4,
  }));
  await writeFile(join(cwd, 'models', 'llama-3-8b', 'config.json'), '{"architectures":["LlamaForCausalLM"]}\n');
  await writeFile(join(cwd, 'models', 'llama-3-8b', 'model.safetensors'), writeSafetensors({ 'w': { dtype: 'F32', shape: [4, 4], data_offsets: [0, 64] } }, 64));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('README.md', () => {
  test('every command block either runs or says why not', () => {
    const all = blocks(readme);
    expect(all.length).toBeGreaterThan(10);
    for (const b of all.filter((x) => x.mode !== 'run')) expect([b.line, b.reason.length > 20]).toEqual([b.line, true]);
    // The walkthrough and the API are run, not only the easy parts.
    expect(all.filter((b) => b.mode === 'run').length).toBeGreaterThanOrEqual(8);
    expect(all.filter((b) => b.mode === 'background')).toHaveLength(1);
  });

  test('its command blocks run as written, in order, against a node the README starts', async () => {
    const all = blocks(readme);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CHORUS_') && !k.startsWith('npm_') && k !== 'NODE_OPTIONS') env[k] = v;
    Object.assign(env, {
      HOME: work,
      PATH: `${join(work, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
      READMETEST_LOG: join(work, 'node.log'),
      // Nodes in tests: loopback, a free port, no multicast. README reads the API's address from `chorus status`.
      CHORUS_API_PORT: '0',
      ...ISOLATED_ENV,
      NO_COLOR: '1',
    });
    const child = spawn('bash', ['-c', script(all)], { cwd: join(work, 'cwd'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // READMETEST_DUMP=FILE keeps the whole transcript for a reader.
    if (process.env['READMETEST_DUMP']) await writeFile(process.env['READMETEST_DUMP'], `${out}\n--- stderr ---\n${err}`);
    const tail = `${out.slice(-3000)}\n--- stderr ---\n${err.slice(-3000)}`;
    expect(code, tail).toBe(0);
    expect(out).toContain('### README done');
    for (const b of all.filter((x) => x.mode !== 'not run')) expect(out).toContain(`### README block at line ${b.line}`);
    // What the walkthrough promises a reader sees.
    expect(out).toMatch(/^FLAGGED {2}sha256:/m);
    expect(out).toContain('exit status 3');
    expect(out).toMatch(/^node\s+running$/m);
    expect(out).toMatch(/stored retraction attestation [0-9a-f]{64}/);
    expect(out).toContain('"ok":true'); // /healthz
    // The moved node has the same identity as the first.
    const dids = [...out.matchAll(/^(did:key:z6Mk\w+)$/gm)].map((m) => m[1]);
    expect(dids.length).toBeGreaterThanOrEqual(2);
    expect(new Set(dids).size).toBe(1);
  }, 240_000);
});
