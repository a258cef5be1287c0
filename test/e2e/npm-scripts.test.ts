import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { alive, ISOLATED_ENV, makeInitialisedSandbox, REPO_ROOT } from './run-cli.js';

/** The npm scripts as README gives them: `npm start`, `npm run chorus --silent -- …`. */

const run = promisify(execFile);

function npmEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHORUS_HOME: home, ...ISOLATED_ENV, CHORUS_API_PORT: '0' };
  delete env['NODE_OPTIONS'];
  return env;
}

const sandboxes: { cleanup(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.cleanup();
});
async function sandbox(): Promise<Awaited<ReturnType<typeof makeInitialisedSandbox>>> {
  const sb = await makeInitialisedSandbox();
  sandboxes.push(sb);
  return sb;
}

describe('npm scripts', () => {
  test('npm run chorus --silent -- status --json prints only JSON on stdout (pipes into jq)', async () => {
    const sb = await sandbox();
    const r = await run('npm', ['run', 'chorus', '--silent', '--', 'status', '--json'], { cwd: REPO_ROOT, env: npmEnv(sb.home) });
    const status = JSON.parse(r.stdout) as { did: string; running: boolean };
    expect(status.did).toBe(sb.did);
    expect(status.running).toBe(false);
  });

  test('npm start builds nothing when the sources did not change, and SIGTERM to npm stops the node (no orphan)', async () => {
    const sb = await sandbox();
    const built = join(REPO_ROOT, 'dist', 'node', 'cli', 'main.js');
    const builtAt = statSync(built).mtimeMs;
    const child = spawn('npm', ['start'], { cwd: REPO_ROOT, env: npmEnv(sb.home), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const began = Date.now();
    const file = join(sb.home, 'daemon.json');
    while (!existsSync(file)) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
      if (Date.now() - began > 60_000) throw new Error(`npm start did not bring the node up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
    // The build step found nothing to do: the build output was not written again.
    expect(statSync(built).mtimeMs).toBe(builtAt);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
    expect(out).toMatch(/"msg":"stopped"/);
  }, 90_000);
});
