import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, CLI_PATH, ISOLATED_ENV, makeInitialisedSandbox, makeSandbox, REPO_ROOT, spawnCli, type Sandbox } from './run-cli.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { until } from '../support/until.js';

/**
 * How the chorus process meets its surroundings: ports taken, bad addresses, an old Node,
 * a closed pipe, npm in between, a umask of 000, SIGTERM with a stuck client.
 */

const sandboxes: Sandbox[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of servers.splice(0)) s.close();
  for (const s of sandboxes.splice(0)) await s.cleanup();
});

async function sandbox(): Promise<Sandbox> {
  const sb = await makeInitialisedSandbox('chorus-process-');
  sandboxes.push(sb);
  return sb;
}

/** A port some other process holds. */
async function takenPort(): Promise<number> {
  const s = createServer();
  servers.push(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as { port: number }).port;
}

/** Exactly one line on stderr, and no stack trace. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(/^\s+at /m);
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0] as string;
}

/**
 * The daemon.json of a home once it names a live process. Given the child that should
 * start it, fails at once, with what the child printed, if the child ends first.
 */
async function daemonInfo(home: string, starter?: ChildProcess): Promise<{ pid: number; url: string }> {
  let info: { pid: number; url: string } | undefined;
  let output = '';
  starter?.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  starter?.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await until('daemon.json', async () => {
    if (starter && (starter.exitCode !== null || starter.signalCode !== null)) {
      throw new Error(`the starter exited (${starter.exitCode ?? starter.signalCode}) before daemon.json named a live node:\n${output}`);
    }
    try {
      info = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { pid: number; url: string };
      return alive(info.pid);
    } catch {
      return false;
    }
  }, 60_000);
  return info!;
}

/** Runs a child to its end; resolves with its exit status and output. */
async function finish(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'close') as [number | null];
  return { code, stdout, stderr };
}

/** A `node` older than 22 on the PATH outside this project (the system's), if there is one. */
function oldNode(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      const v = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(/^v(\d+)/.exec(v)?.[1]) < 22) return candidate;
    } catch {
      // not there, or not runnable
    }
  }
  return undefined;
}

describe('chorus start: failures are one line and the right exit status, never a hang', () => {
  it('the API port in use: exit 1, one line naming the address', async () => {
    const sb = await sandbox();
    const port = await takenPort();
    const r = await sb.run(['start', '--no-net', '--port', String(port)]);
    expect(r.code, r.stderr).toBe(1);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.* in use`));
  });

  it('the p2p listen port in use: exit 1, one line naming the address', async () => {
    const sb = await sandbox();
    const port = await takenPort();
    const r = await sb.run(['start', '--port', '0', '--no-mdns', '--no-upnp', '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`/ip4/127\\.0\\.0\\.1/tcp/${port}.* in use`));
  });

  it('both the API and the p2p port in use: one line naming both, before anything joins the network', async () => {
    const sb = await sandbox();
    const [api, p2p] = [await takenPort(), await takenPort()];
    const r = await sb.run(['start', '--port', String(api), '--no-mdns', '--no-upnp', '--listen', `/ip4/127.0.0.1/tcp/${p2p}`]);
    expect(r.code, r.stderr).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${api}.*/ip4/127\\.0\\.0\\.1/tcp/${p2p}.* are in use`));
    expect(r.stderr).not.toMatch(/caught up|sync/);
  });

  it('a bad --listen multiaddr: exit 2, one line naming the field and where it came from', async () => {
    const sb = await sandbox();
    const r = await sb.run(['start', '--port', '0', '--listen', 'garbage']);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/net\.listen.*command line.*not a multiaddr: "garbage"/);
  });

  // Skipped where no Node older than 22 is installed outside the project: nothing to run it with.
  it.skipIf(oldNode() === undefined)('Node older than 22: exit 1 and one line saying so, before anything else loads', async () => {
    const r = await finish(spawn(oldNode()!, [CLI_PATH, '--version'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toMatch(/needs Node\.js 22 or newer \(this is 2?\d\./);
  });
});

describe('the process and its surroundings', () => {
  it('a reader that goes away (chorus export | head -1) ends export quietly, exit 0', async () => {
    const sb = await sandbox();
    const issuer = makeIssuer();
    await writeFile(join(sb.dir, 'bulk.jsonl'), Array.from({ length: 3000 }, () => makeEnvelopeLine(issuer)).join('\n'));
    await sb.expectCode(0, ['import', join(sb.dir, 'bulk.jsonl')]);
    const child = spawnCli(['export'], { home: sb.home });
    children.push(child);
    // Read one chunk, then close the pipe, as `head -1` does: 2.4 MB cannot all fit in it.
    child.stdout!.once('data', () => child.stdout!.destroy());
    const r = await finish(child);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('under umask 000, the data dir and everything in it is owner-only (dirs 0700, files 0600)', async () => {
    const sb = await makeSandbox('chorus-umask-');
    sandboxes.push(sb);
    const env = { CHORUS_HOME: sb.home, ...ISOLATED_ENV };
    const home = env.CHORUS_HOME;
    const withUmask = (args: string[]): ChildProcess => spawn('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, CLI_PATH, ...args], {
      cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect((await finish(withUmask(['init']))).code).toBe(0);
    const node = withUmask(['start', '--port', '0']);
    children.push(node);
    const done = finish(node);
    await daemonInfo(home);
    expect((await finish(withUmask(['attest', 'audit', '--subject', 'ab'.repeat(32), '--harness', 'h@1', '--verdict', 'pass']))).code).toBe(0);
    node.kill('SIGTERM');
    expect((await done).code).toBe(0);
    const seen: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        const mode = ((await stat(p)).mode & 0o777).toString(8);
        seen.push(`${p.slice(home.length)} ${mode}`);
        if (e.isDirectory()) await walk(p);
      }
    };
    seen.push(`/ ${((await stat(home)).mode & 0o777).toString(8)}`);
    await walk(home);
    expect(seen.some((l) => l.startsWith('/store/'))).toBe(true);
    expect(seen.some((l) => l.startsWith('/p2p/'))).toBe(true);
    const loose = seen.filter((l) => !/ (700|600)$/.test(l));
    expect(loose, seen.join('\n')).toEqual([]);
  });

  it('SIGTERM exits, code 0, even with a failed import and a stalled upload still connected (it does not wait for them to end)', async () => {
    const sb = await sandbox();
    await writeFile(join(sb.home, 'config.json'), JSON.stringify({ api: { importLimitBytes: 4096 } }));
    const node = spawnCli(['start', '--port', '0', '--no-net'], { home: sb.home });
    children.push(node);
    const done = finish(node);
    const { url } = await daemonInfo(sb.home);
    const token = (await readFile(join(sb.home, 'api-token'), 'utf8')).trim();
    const { port } = new URL(url);
    const open = (): { write: (s: string) => void; got: () => string } => {
      const s = connect(Number(port), '127.0.0.1');
      s.on('error', () => undefined);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.write(`POST /v1/import HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n`);
      return { write: (x) => void s.write(`${Buffer.byteLength(x).toString(16)}\r\n${x}\r\n`), got: () => got };
    };
    // One import over the limit (answered 413 while its body is still coming), one that
    // sends a little and then nothing: neither ever ends its body.
    const failed = open();
    for (let i = 0; i < 4; i++) failed.write('{"x":1}\n'.repeat(300));
    await until('the failed import\'s answer', () => failed.got().includes(' 413 '));
    const stalled = open();
    stalled.write('{"x":1}\n');
    await new Promise((r) => setTimeout(r, 100)); // the stalled request is in flight
    const t0 = Date.now();
    node.kill('SIGTERM');
    const r = await done;
    console.log(`[process-edges] SIGTERM to exit with two unfinished imports: ${Date.now() - t0} ms`);
    expect(r.code, r.stderr).toBe(0);
    expect(existsDaemonFile(sb.home)).toBe(false);
  });
});

function existsDaemonFile(home: string): boolean {
  try {
    accessSync(join(home, 'daemon.json'));
    return true;
  } catch {
    return false;
  }
}

describe('npm in between', () => {
  for (const [name, cmd, args] of [
    ['npm start', 'npm', ['start']],
    ['npx chorus start', 'npx', ['chorus', 'start']],
  ] as const) {
    it(`${name}: SIGTERM to npm stops the node (no orphan left under init)`, async () => {
      const sb = await sandbox();
      // npx keeps, per checkout path, the bin link it made the first time (in the npm
      // cache's _npx); a machine that ran `npx chorus` in an older checkout at the same path
      // would run that older bin. An npm cache of its own makes this what a new user gets.
      const npmCache = join(sb.dir, 'npm-cache');
      const child = spawn(cmd, [...args], {
        cwd: REPO_ROOT,
        env: {
          ...process.env, CHORUS_HOME: sb.home, CHORUS_API_PORT: '0', CHORUS_NET_ENABLED: 'false',
          npm_config_cache: npmCache, npm_config_offline: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const done = finish(child);
      const { pid, url } = await daemonInfo(sb.home, child);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      await done;
      await until(`the node (pid ${pid}) to exit`, () => !alive(pid), 10_000);
    }, 180_000);
  }
});
