import type { Daemon } from '../../node/daemon/daemon.js';
import { TestNet } from './test-net.js';

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
  const net = new TestNet({ 'api.writeRateLimitPerMinute': 100_000, 'net.enabled': false });
  const daemon = await net.node(overrides, { prefix });
  return { daemon, url: daemon.url, token: daemon.token, dir: daemon.dir, stop: () => net.stop() };
}
