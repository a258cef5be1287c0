import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';

/** A daemon in this process on a fresh data dir: real LevelDB, real HTTP server, no network. */
export interface TestDaemon {
  readonly daemon: Daemon;
  readonly url: string;
  readonly token: string;
  readonly dir: string;
  /** Stops the daemon and removes its data dir. */
  stop(): Promise<void>;
}

/** `overrides`: config fields as dotted paths (as command-line flags set them), over the test defaults. */
export async function startTestDaemon(prefix = 'chorus-daemon-', overrides: Record<string, unknown> = {}): Promise<TestDaemon> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const home = resolveHome({}, dir);
  await initHome(home);
  const token = (await readFile(home.token, 'utf8')).trim();
  const daemon = await startDaemon(home, { env: {}, overrides: { 'api.port': 0, 'api.writeRateLimitPerMinute': 100_000, 'net.enabled': false, ...overrides }, logger: makeLogger('silent', false) });
  return {
    daemon, url: daemon.url, token, dir,
    async stop() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
