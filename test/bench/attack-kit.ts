/**
 * The attack benchmark's kit (bench:attack): children driven over IPC, /healthz probes,
 * RSS samplers and the figure table's row (the general helpers are in kit.ts). Shared by
 * test/bench/attack.ts and the figure modules beside it (attack-*.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { arg, logger, QUICK, rssMB, sleep, sorted } from './kit.js';

export const ROLE = arg('--role') ?? 'main';
export const log = logger(`bench:attack${ROLE === 'main' ? '' : `:${ROLE}`}`);

/** Samples a process's RSS until stopped; resolves to the maximum seen. */
export function rssSampler(pid: number, everyMs = 100): { stop(): Promise<number>; max(): number } {
  let max = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      max = Math.max(max, await rssMB(pid).catch(() => 0));
      await sleep(everyMs);
    }
  })();
  return {
    max: () => max,
    async stop() {
      on = false;
      await loop;
      return max;
    },
  };
}

export interface Call { id: number; cmd: string; args: unknown }
export interface Reply { id: number; ok: boolean; value?: unknown; error?: string }

export class Child {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`child exited (${code})`));
      this.pending.clear();
    });
  }

  /** Forks `file` (a bench module) as `--role role`, passing --quick when this run is quick. */
  static spawn(role: string, file: string = process.argv[1]!): Child {
    const proc = fork(file, ['--role', role, ...(QUICK ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Child(proc);
  }

  call<T>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args } satisfies Call);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await Promise.race([this.call('exit').catch(() => undefined), sleep(15_000)]);
    await Promise.race([exited, sleep(15_000)]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

export function serve(handlers: Record<string, (args: never) => Promise<unknown>>): void {
  process.on('message', (m: Call) => {
    void (async () => {
      const h = handlers[m.cmd];
      try {
        if (!h) throw new Error(`no handler ${m.cmd}`);
        const value = await h(m.args as never);
        process.send?.({ id: m.id, ok: true, value } satisfies Reply);
      } catch (e) {
        process.send?.({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) } satisfies Reply);
      }
    })();
  });
  // The orchestrator gone: so are we.
  process.on('disconnect', () => process.exit(0));
}


/** /healthz probed every 10 ms (each probe timed on its own, so a frozen node shows up). */
export function healthProbe(url: string): { stop(): Promise<{ lat: number[]; failed: number }> } {
  const lat: number[] = [];
  let failed = 0;
  let inflight = 0;
  const pending = new Set<Promise<void>>();
  const timer = setInterval(() => {
    if (inflight >= 200) return;
    inflight++;
    const s = performance.now();
    const p = fetch(`${url}/healthz`, { signal: AbortSignal.timeout(60_000) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) lat.push(performance.now() - s);
        else failed++;
      })
      .catch(() => void failed++)
      .finally(() => {
        inflight--;
        pending.delete(p);
      });
    pending.add(p);
  }, 10);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      return { lat: sorted(lat), failed };
    },
  };
}


export type Row = [figure: string, measured: string, baseline: string, goal: string, result: string];

export async function timedGet(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const s = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  return { ms: performance.now() - s, bytes: body.byteLength, status: res.status };
}

