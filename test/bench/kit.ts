/**
 * The benchmarks' kit (issue 23): what every test/bench/*.ts needs and once copied — the
 * command line, number formatting, a stderr progress logger, percentiles, the figure table,
 * and child processes (the built CLI as a daemon or a command, this file's own children,
 * /proc figures of a process). The attack benchmark's own kit (IPC children, probes) is
 * attack-kit.ts, built on this one.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import type { Libp2p } from 'libp2p';

// ---------------------------------------------------------------------------------------
// The command line

export const QUICK = process.argv.includes('--quick');

/** The word after `flag` on the command line (`--nodes 8` → '8'), or undefined without the flag. */
export function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The number after `flag` on the command line, or `otherwise` without the flag. */
export function numArg(flag: string, otherwise: number): number {
  const v = arg(flag);
  return v === undefined ? otherwise : Number(v);
}

// ---------------------------------------------------------------------------------------
// Printing

/** A number with thousands separators and exactly `d` decimals (1,234.5); NaN and ±Infinity as words. */
export const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : String(n));

/** A ratio as a percentage: percent(0.123, 1) → '12.3%'. */
export const percent = (ratio: number, d = 0): string => `${fmt(ratio * 100, d)}%`;

/** A progress logger on stderr: logger('bench:api')('msg') writes `[bench:api] msg`. */
export function logger(name: string): (msg: string) => void {
  return (msg) => void process.stderr.write(`[${name}] ${msg}\n`);
}

/** A figure's result against its goal, as the tables say it. */
export const mark = (ok: boolean): 'PASS' | 'MISS' => (ok ? 'PASS' : 'MISS');
export const met = (ok: boolean): string => (ok ? 'met' : 'NOT MET');

/** The header most benchmarks' figure tables have. */
export const FIGURE_HEAD = ['figure', 'measured', 'reference (same run)', 'goal', ''] as const;

/**
 * A table: the header (if any) and rows, columns padded to the widest cell and joined by
 * ' | '; with `rule`, a line of dashes under the header. Trailing blanks trimmed.
 */
export function table(head: readonly string[] | undefined, rows: readonly (readonly string[])[], o: { rule?: boolean } = {}): string {
  const all = head ? [head, ...rows] : [...rows];
  const cols = Math.max(0, ...all.map((r) => r.length));
  const w = Array.from({ length: cols }, (_, c) => Math.max(0, ...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string => w.map((n, c) => (r[c] ?? '').padEnd(n)).join(' | ').trimEnd();
  return [...(head ? [line(head), ...(o.rule ? [w.map((n) => '-'.repeat(n)).join('-+-')] : [])] : []), ...rows.map(line)].join('\n');
}

/** A row of the summary tables that give a ratio column (bench:ingest, bench:scan). */
export interface RatioRow {
  readonly figure: string;
  readonly measured: string;
  readonly reference: string;
  readonly ratio: string;
  readonly goal: string;
  readonly result: string;
}

/** Those tables, with a rule under the header; `result` heads the last column. */
export function ratioTable(rows: readonly RatioRow[], result: string): string {
  return table(['figure', 'measured', 'reference (same run)', 'ratio', 'goal', result], rows.map((r) => [r.figure, r.measured, r.reference, r.ratio, r.goal, r.result]), { rule: true });
}

/** `node v22…, linux/x64, 2 CPUs (model)`: the machine line of a benchmark's header. */
export function machine(): string {
  return `node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`;
}

/** The load averages (1, 5, 15 min), two decimals each. */
export function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

// ---------------------------------------------------------------------------------------
// Statistics

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The nearest-rank percentile of an ascending array (p in 0..1); NaN when empty. */
export function pct(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) return NaN;
  return ascending[Math.min(ascending.length - 1, Math.max(0, Math.ceil(ascending.length * p) - 1))]!;
}

/** pct() of numbers in any order. */
export const quantile = (xs: readonly number[], p: number): number => pct(sorted(xs), p);

/** The median: the middle value, or the mean of the two middle ones; NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Processes

/** The built CLI, as the benchmarks run it (dist/test/bench -> dist/node/cli). */
export const CLI = fileURLToPath(new URL('../../node/cli/main.js', import.meta.url));

/** The environment of a CLI child on `home`: no inherited NODE_OPTIONS, a shared compile cache. */
export function cliEnv(home: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, CHORUS_HOME: home, NODE_COMPILE_CACHE: join(tmpdir(), 'chorus-e2e-compile-cache') };
  delete e['NODE_OPTIONS'];
  return e;
}

/** `node [nodeArgs] CLI args`, CHORUS_HOME=home unless `env` says otherwise. */
export function spawnCli(args: readonly string[], o: { home: string; env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; stdio?: StdioOptions }): ChildProcess {
  return spawn(process.execPath, [...(o.nodeArgs ?? []), CLI, ...args], { env: o.env ?? { ...process.env, CHORUS_HOME: o.home }, stdio: o.stdio ?? ['ignore', 'inherit', 'inherit'] });
}

/** Resolves to the child's exit code once it has exited (at once if it already has). */
export async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it has. */
export async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(t);
}

/** A CLI command to completion (`chorus init`…), with cliEnv(home); throws unless it exits 0. */
export async function runCli(args: readonly string[], home: string): Promise<void> {
  const code = await exited(spawnCli(args, { home, env: cliEnv(home), stdio: 'ignore' }));
  if (code !== 0) throw new Error(`chorus ${args.join(' ')} exited ${code}`);
}

/** The last `max` characters a piped child wrote on stdout and stderr, for error messages. */
export function outputTail(child: ChildProcess, max = 4000): () => string {
  let out = '';
  const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-max));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/**
 * The URL of the daemon `child` runs on `home`, once its daemon.json names the child (and
 * `ready(url)`, if given, holds). Throws if the child exits first, or after `timeoutMs`.
 */
export async function daemonUrl(child: ChildProcess, home: string, o: { timeoutMs?: number; pollMs?: number; ready?: (url: string) => Promise<boolean>; what?: () => string } = {}): Promise<string> {
  const end = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid && (o.ready === undefined || (await o.ready(info.url)))) return info.url;
    } catch {
      // not written (or not answering) yet
    }
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode})${o.what ? `:\n${o.what()}` : ''}`);
    if (Date.now() > end) throw new Error(`the daemon did not start${o.what ? `:\n${o.what()}` : ''}`);
    await sleep(o.pollMs ?? 50);
  }
}

/** GET /healthz answers 200. */
export const healthy = async (url: string): Promise<boolean> => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true;

/**
 * `chorus start` on `home` as its own process (no network, writes unthrottled), up once
 * daemon.json names it and /healthz answers; startupMs is spawn to healthy.
 */
export async function startBenchDaemon(home: string): Promise<{ child: ChildProcess; url: string; startupMs: number }> {
  const t0 = performance.now();
  const child = spawnCli(['start', '--port', '0', '--log-level', 'warn'], {
    home,
    env: { ...process.env, CHORUS_HOME: home, CHORUS_API_WRITE_RATE_LIMIT: '100000000', CHORUS_NET_ENABLED: 'false' },
  });
  const url = await daemonUrl(child, home, { pollMs: 2, ready: healthy });
  return { child, url, startupMs: performance.now() - t0 };
}

/** The first line a child prints on stdout (a server's URL). */
export async function firstLine(child: ChildProcess): Promise<string> {
  let text = '';
  for (;;) {
    const [chunk] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => {
      throw new Error('child exited before printing its URL');
    })])) as [Buffer];
    text += chunk.toString();
    if (text.includes('\n')) return text.split('\n')[0]!.trim();
  }
}

/** The HTTP-only reference (constant-server.ts): Fastify serving a constant JSON body of `bytes`. */
export async function startConstantServer(bytes: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./constant-server.js', import.meta.url)), String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, url: await firstLine(child) };
}

/** A child process run to completion; wall seconds from spawn to exit, start-up included. */
export function timeChild(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, okCodes: readonly number[] = [0]): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw r.error;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

/** This Node runs `args` (a bench file in a child role) to completion; its stdout parsed as JSON. */
export function childJson<T>(args: readonly string[]): T {
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${args[0] ?? 'child'} ${args.slice(1, 2).join(' ')} exited ${r.status}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs a benchmark's entry: exit code 0 once it resolves, 1 (and the stack on stderr) if it throws. */
export function runMain(run: Promise<void>): void {
  run.then(
    () => {
      process.exitCode = 0;
    },
    (e: unknown) => {
      process.stderr.write(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/** A process's resident set (VmRSS), in MiB. */
export async function rssMB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]) / 1024;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks (USER_HZ = 100)
}

// ---------------------------------------------------------------------------------------
// HTTP

/** A metric's value in Prometheus text, summed over its label sets (or one: `name{a="b"}`). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** A metric from a daemon's GET /metrics (see metricSum). */
export async function metric(url: string, name: string, headers: Record<string, string> = {}): Promise<number> {
  return metricSum(await (await fetch(`${url}/metrics`, { headers })).text(), name);
}

/** The events of a server-sent event stream, as they come. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string | undefined; data: string | undefined }> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      yield { event: /^event: (.*)$/m.exec(ev)?.[1], data: /^data: (.*)$/m.exec(ev)?.[1] };
    }
  }
}

/** An autocannon run (loaded on first use: most benchmarks never need it). */
export async function load(opts: autocannon.Options): Promise<autocannon.Result> {
  const { default: run } = await import('autocannon');
  const started = performance.now();
  let last = started;
  return new Promise((resolve, reject) => {
    // autocannon ends a run on its next one-second tick, so its `duration` for an `amount`
    // run is rounded up to whole seconds (4.02 s for 3.2 s of work): from the first request to
    // the last response, by the wall clock, instead.
    const instance = run(opts, (err, res) => (err ? reject(err) : resolve({ ...res, duration: (last - started) / 1000 })));
    instance.on('response', () => {
      last = performance.now();
    });
  });
}

// ---------------------------------------------------------------------------------------
// libp2p

/**
 * A bare libp2p host on loopback with the node's transports (TCP, Noise, Yamux, identify)
 * and `services` besides; started. libp2p is loaded on first use.
 */
export async function bareHost(services: Record<string, (components: never) => unknown> = {}): Promise<Libp2p> {
  const [{ createLibp2p }, { tcp }, { noise }, { yamux }, { identify }] = await Promise.all([import('libp2p'), import('@libp2p/tcp'), import('@libp2p/noise'), import('@libp2p/yamux'), import('@libp2p/identify')]);
  return createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify(), ...services } });
}
