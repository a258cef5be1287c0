import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Drives the BUILT command line (`dist/node/cli/main.js`) as a child process, the way a
 * user or a script runs it. Build first: `npm run build --silent`.
 */

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI_PATH = join(REPO_ROOT, 'dist', 'node', 'cli', 'main.js');

export interface CliResult {
  /** Exit code, or null when the process was killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface RunOptions {
  /** The data dir, passed as CHORUS_HOME. */
  readonly home?: string;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Kill the child (SIGKILL) after this long; default 30 s. */
  readonly timeoutMs?: number;
}

function assertBuilt(): void {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} does not exist: run \`npm run build --silent\` before the e2e tests`);
  }
}

/**
 * What every node a test starts from the CLI gets unless the test says otherwise: loopback
 * only, a free port, no mDNS (nodes of other test files on this machine are not its peers),
 * no UPnP (nothing asked of the LAN's router). The CLI counterpart of test/support/test-net.ts.
 */
export const ISOLATED_ENV: Readonly<Record<string, string>> = Object.freeze({
  CHORUS_NET_LISTEN: '["/ip4/127.0.0.1/tcp/0"]',
  CHORUS_NET_MDNS: 'false',
  CHORUS_NET_UPNP: 'false',
});

function childEnv(opts: RunOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // Never let a test touch the real ~/.chorus: without an explicit home, point at nothing.
  env['CHORUS_HOME'] = opts.home ?? join(tmpdir(), 'chorus-e2e-no-home-given');
  delete env['NODE_OPTIONS'];
  // Nodes started by tests listen on loopback only, on a free port, and never multicast.
  for (const [k, v] of Object.entries(ISOLATED_ENV)) env[k] ??= v;
  // Node 22's on-disk compile cache: the CLI is started a few hundred times, this makes
  // every start after the first cheaper. It changes nothing about what the CLI does.
  env['NODE_COMPILE_CACHE'] ??= join(tmpdir(), 'chorus-e2e-compile-cache');
  return env;
}

/** Starts the CLI with stdin ignored and stdout/stderr piped; the caller owns the child. */
export function spawnCli(args: readonly string[], opts: RunOptions = {}): ChildProcess {
  assertBuilt();
  return spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: childEnv(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI to completion and captures its output and exit status. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  return new Promise((resolvePromise, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close' (not 'exit') so that both pipes are drained.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
  });
}

/** Short description of a result for assertion messages. */
export function describeRun(args: readonly string[], r: CliResult): string {
  return `chorus ${args.join(' ')} -> code ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (timed out)' : ''}\n--- stdout\n${r.stdout.slice(0, 4000)}\n--- stderr\n${r.stderr.slice(0, 4000)}`;
}

/** A temp dir for one test: `home` is its CHORUS_HOME (not created until `chorus init`). */
export interface Sandbox {
  readonly dir: string;
  readonly home: string;
  run(args: readonly string[], opts?: Omit<RunOptions, 'home'>): Promise<CliResult>;
  /** Runs and throws (with the output) unless the exit code is `code`. */
  expectCode(code: number, args: readonly string[], opts?: Omit<RunOptions, 'home'>): Promise<CliResult>;
  cleanup(): Promise<void>;
}

export async function makeSandbox(prefix = 'chorus-e2e-'): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const home = join(dir, 'home');
  const run = (args: readonly string[], opts: Omit<RunOptions, 'home'> = {}): Promise<CliResult> => runCli(args, { ...opts, home });
  return {
    dir,
    home,
    run,
    async expectCode(code, args, opts = {}) {
      const r = await run(args, opts);
      if (r.code !== code) throw new Error(`expected exit ${code}\n${describeRun(args, r)}`);
      return r;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A sandbox whose home has been through `chorus init`; returns its did too. */
export async function makeInitialisedSandbox(prefix?: string): Promise<Sandbox & { did: string }> {
  const sb = await makeSandbox(prefix);
  const r = await sb.expectCode(0, ['init']);
  const did = /did:key:z[1-9A-HJ-NP-Za-km-z]+/.exec(r.stdout)?.[0];
  if (did === undefined) throw new Error(`init printed no did:key\n${describeRun(['init'], r)}`);
  return { ...sb, did };
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The attestation id of an envelope, computed independently of the product: sha256 of the
 * DSSE v1 pre-authentication encoding "DSSEv1 LEN(type) type LEN(body) body".
 */
export function envelopeId(envelope: { payloadType: string; payload: string }): string {
  const type = Buffer.from(envelope.payloadType, 'utf8');
  const body = Buffer.from(envelope.payload, 'base64');
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
  return sha256Hex(pae);
}

/** The first 64-hex attestation id in a text (e.g. "stored audit attestation <id>"). */
export function idIn(text: string): string {
  const m = /\b[0-9a-f]{64}\b/.exec(text);
  if (!m) throw new Error(`no attestation id in: ${text}`);
  return m[0];
}

/** Whether a process is still there. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A node started by `chorus start --port 0`, up once daemon.json names its URL. */
export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  log(): string;
}

/** Starts `chorus start --port 0 …extra` on the sandbox's home and waits until it serves. */
export async function startDaemon(sb: Sandbox, extra: readonly string[] = [], env: Record<string, string> = {}): Promise<RunningDaemon> {
  const child = spawnCli(['start', '--port', '0', ...extra], { home: sb.home, env });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(sb.home, 'daemon.json'), 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid) {
        const token = (await readFile(join(sb.home, 'api-token'), 'utf8')).trim();
        return { child, url: info.url, token, log: () => out };
      }
    } catch {
      // not written yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`node did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
