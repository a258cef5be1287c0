import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { alive, ISOLATED_ENV, makeInitialisedSandbox, REPO_ROOT } from './run-cli.js';

/**
 * The install an operator does (README, "Install"): the packed package installed globally
 * into a prefix, then run from there with only the system's Node.js on the PATH: not the
 * Node 22 that `npm run` puts first. On this machine the system Node is 20, older than
 * libp2p needs, so the command must run the Node 22 runtime the package carries.
 */

const run = promisify(execFile);
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The environment of a shell without npm's run-script variables or the repo's node_modules/.bin. */
function systemEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') || k === 'NODE' || k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k.startsWith('VITEST') || k.startsWith('CHORUS_')) continue;
    env[k] = v;
  }
  return { ...env, PATH: SYSTEM_PATH, ...ISOLATED_ENV, ...extra };
}

let work: string;
let prefix: string;
let chorusBin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'chorus-install-'));
  prefix = join(work, 'prefix');
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, env: systemEnv({ PATH: process.env['PATH'] ?? SYSTEM_PATH }), maxBuffer: 1 << 24 });
  const tarball = join(work, packed.stdout.trim().split('\n').at(-1)!);
  expect(existsSync(tarball)).toBe(true);
  // As README says, with the system's npm: the npm cache makes this a copy on a machine
  // that just ran `npm install` for the repo.
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: work, env: systemEnv(), maxBuffer: 1 << 24, timeout: 240_000,
  });
  chorusBin = join(prefix, 'bin', 'chorus');
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function chorus(args: string[], home: string, extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(chorusBin, args, { env: systemEnv({ CHORUS_HOME: home, PATH: `${join(prefix, 'bin')}:${SYSTEM_PATH}`, ...extra }), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function waitForDaemon(home: string, child: ChildProcess, log: () => string): Promise<{ pid: number; url: string }> {
  const file = join(home, 'daemon.json');
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the node exited (${child.exitCode}) before it was up:\n${log()}`);
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string };
      } catch {
        // written atomically, but read before it existed whole on some file systems: retry
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the node did not come up in 30 s:\n${log()}`);
}

/** Starts `argv` (a command line as an operator or systemd runs it) and waits for the node. */
async function startNode(argv: string[], env: NodeJS.ProcessEnv, home: string): Promise<{ child: ChildProcess; pid: number; url: string; exited: Promise<{ code: number | null; signal: string | null }>; log: () => string }> {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const d = await waitForDaemon(home, child, () => out);
  return { child, ...d, exited, log: () => out };
}

describe('installed from the packed tarball, run with the system Node only', () => {
  test('the system Node here is older than 22 (what this test is about), or the test says what it covers', async () => {
    const v = await run('node', ['--version'], { env: systemEnv() });
    // Either way the installed command must work; on an old Node it must carry its own.
    expect(v.stdout).toMatch(/^v\d+\./);
    if (Number(v.stdout.slice(1).split('.')[0]) < 22) {
      expect(existsSync(join(prefix, 'lib', 'node_modules', 'chorus', 'node_modules', 'node', 'bin', 'node'))).toBe(true);
    }
  });

  test('chorus --version, init, start, query, status, stop from the prefix', async () => {
    const home = join(work, 'home-cli');
    const version = await chorus(['--version'], home);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    const init = await chorus(['init'], home);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/did:key:z/);

    const env = systemEnv({ CHORUS_HOME: home, PATH: `${join(prefix, 'bin')}:${SYSTEM_PATH}` });
    const node = await startNode([chorusBin, 'start', '--port', '0'], env, home);
    try {
      const q = await chorus(['query', `sha256:${'ab'.repeat(32)}`, '--json'], home);
      expect(q.code, q.stderr).toBe(0);
      expect((JSON.parse(q.stdout) as { status: string }).status).toBe('unknown');
      const s = await chorus(['status', '--json'], home);
      const status = JSON.parse(s.stdout) as { running: boolean; api: { url: string } };
      expect(status.running).toBe(true);
      expect(status.api.url).toBe(node.url);
      // The web view ships in the package: its page and the modules it imports are served.
      const page = await fetch(`${node.url}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const preact = /"preact":\s*"([^"]+)"/.exec(html)?.[1];
      expect(preact).toBeDefined();
      expect((await fetch(`${node.url}${preact!}`)).status).toBe(200);
    } finally {
      // `kill $!` on the command an operator started: the node stops with it, no orphan.
      node.child.kill('SIGTERM');
    }
    const end = await node.exited;
    expect(end.code, node.log()).toBe(0);
    expect(alive(node.pid)).toBe(false);
    expect(existsSync(join(home, 'daemon.json'))).toBe(false);
  }, 120_000);
});

describe('the systemd unit (deploy/chorus.service)', () => {
  const unit = readFileSync(join(REPO_ROOT, 'deploy', 'chorus.service'), 'utf8');
  const directive = (name: string): string[] => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());

  test('keeps the hardening, restarts on failure, and names the state directory the node uses', () => {
    expect(directive('Restart')).toEqual(['on-failure']);
    expect(directive('User')).toEqual(['chorus']);
    expect(directive('StateDirectory')).toEqual(['chorus']);
    expect(directive('StateDirectoryMode')).toEqual(['0750']);
    for (const h of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp']) expect(directive(h).length, h).toBe(1);
    expect(directive('Environment')).toContain('CHORUS_HOME=/var/lib/chorus');
    expect(directive('ReadWritePaths')).toEqual(['/var/lib/chorus']);
  });

  test("its ExecStart, run from this test's install prefix, starts a node the chorus group can query; SIGTERM stops it with status 0", async () => {
    const home = join(work, 'var-lib-chorus');
    const execStart = directive('ExecStart');
    expect(execStart).toHaveLength(1);
    // The unit's command line, with the install prefix /usr/local mapped to the test's.
    const argv = execStart[0]!.split(/\s+/).map((a) => a.replace(/^\/usr\/local\//, `${prefix}/`));
    expect(argv[0]).toBe(chorusBin);
    const env: Record<string, string> = {};
    for (const e of directive('Environment')) {
      const [k, ...v] = e.split('=');
      env[k!] = v.join('=');
    }
    env['CHORUS_HOME'] = home; // /var/lib/chorus, here
    const node = await startNode([...argv, '--port', '0'], systemEnv(env), home);
    try {
      // What an admin in the group may read: the data dir, the token, daemon.json; never the key.
      expect((await stat(home)).mode & 0o777).toBe(0o750);
      expect((await stat(join(home, 'api-token'))).mode & 0o777).toBe(0o640);
      expect((await stat(join(home, 'daemon.json'))).mode & 0o777).toBe(0o640);
      expect((await stat(join(home, 'identity.key'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(home, 'store'))).mode & 0o777).toBe(0o700);
      const token = (await readFile(join(home, 'api-token'), 'utf8')).trim();
      const res = await fetch(`${node.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', note: 'a lab' }) });
      expect(res.status).toBe(200);
      const s = await chorus(['status'], home);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toMatch(/^node\s+running$/m);

      // A fatal error at start (the store is held by the running node) exits non-zero,
      // which is what makes Restart=on-failure fire.
      const second = await chorus(['start', '--port', '0'], home, env);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(/in use|holds the store|already running/i);
    } finally {
      node.child.kill('SIGTERM');
    }
    const end = await node.exited;
    expect(end.code, node.log()).toBe(0);
    expect(alive(node.pid)).toBe(false);
  }, 120_000);
});

describe('a data dir shared with its group', () => {
  test('stays shared when a command runs without CHORUS_GROUP_ACCESS; a private one stays private', async () => {
    const shared = await makeInitialisedSandbox();
    const priv = await makeInitialisedSandbox();
    try {
      await shared.expectCode(0, ['status'], { env: { CHORUS_GROUP_ACCESS: '1' } });
      expect((await stat(shared.home)).mode & 0o777).toBe(0o750);
      // An admin's command without the variable (an offline one opens the store).
      await shared.expectCode(0, ['list']);
      expect((await stat(shared.home)).mode & 0o777).toBe(0o750);
      expect((await stat(join(shared.home, 'api-token'))).mode & 0o777).toBe(0o640);
      expect((await stat(join(shared.home, 'identity.key'))).mode & 0o777).toBe(0o600);
      await priv.expectCode(0, ['list']);
      expect((await stat(priv.home)).mode & 0o777).toBe(0o700);
      expect((await stat(join(priv.home, 'api-token'))).mode & 0o777).toBe(0o600);
    } finally {
      await shared.cleanup();
      await priv.cleanup();
    }
  });
});
