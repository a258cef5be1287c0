import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { makeInitialisedSandbox, startDaemon, type Sandbox } from '../e2e/run-cli.js';
import { CHROMIUM } from './global-setup.js';

/** A real node started from the built CLI (`chorus start`) in a temp data dir. */
export interface RunningNode {
  readonly sb: Sandbox & { did: string };
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

export async function startNode(env: Record<string, string> = {}): Promise<RunningNode> {
  const sb = await makeInitialisedSandbox('chorus-web-');
  // Isolated (no mDNS, no UPnP, loopback) by run-cli's defaults: nodes of other test files are not its peers.
  const { child, url, token } = await startDaemon(sb, [], { CHORUS_API_WRITE_RATE_LIMIT: '100000', ...env });
  return {
    sb, child, url, token,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await sb.cleanup();
    },
  };
}

/** Headless Chromium from Debian's package; playwright gives it a fresh temporary profile and removes it at close. */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** Where the tests put screenshots: CHORUS_SCREENSHOTS_DIR (docs/screenshots for the README), else a temp dir. */
export async function screenshotDir(): Promise<string> {
  return process.env['CHORUS_SCREENSHOTS_DIR'] ?? mkdtemp(join(tmpdir(), 'chorus-screenshots-'));
}
