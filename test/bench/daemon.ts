import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI, as the benchmarks run it (dist/test/bench -> dist/node/cli). */
export const CLI = fileURLToPath(new URL('../../node/cli/main.js', import.meta.url));

async function waitHealthy(url: string, deadlineMs: number): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadlineMs) throw new Error('daemon did not become healthy');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * `chorus start` on `home` as its own process (no network, writes unthrottled), up once
 * daemon.json names it and /healthz answers; startupMs is spawn to healthy.
 */
export async function startBenchDaemon(home: string): Promise<{ child: ChildProcess; url: string; startupMs: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--log-level', 'warn'], {
    env: { ...process.env, CHORUS_HOME: home, CHORUS_API_WRITE_RATE_LIMIT: '100000000', CHORUS_NET_ENABLED: 'false' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid) {
        await waitHealthy(info.url, Date.now() + 10_000);
        return { child, url: info.url, startupMs: performance.now() - t0 };
      }
    } catch {
      // not written yet
    }
    if (child.exitCode !== null) throw new Error('daemon exited');
    await new Promise((r) => setTimeout(r, 2));
  }
}
