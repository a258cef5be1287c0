import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium: the browser tests drive it through playwright-core (nothing is downloaded from a CDN). */
export const CHROMIUM = '/usr/bin/chromium';

function aptGet(args: string[]): void {
  execFileSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
}

/**
 * Installs Chromium from the Debian archive when it is missing and we may (root); fails
 * with what to do otherwise. The browser tests never skip silently.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() === 0) {
    try {
      aptGet(['install', '-y', '--no-install-recommends', 'chromium']);
    } catch {
      aptGet(['update']);
      aptGet(['install', '-y', '--no-install-recommends', 'chromium']);
    }
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need Chromium at ${CHROMIUM}: install Debian's package (sudo apt-get install chromium) and run again`);
  }
}

export default function setup(): void {
  ensureChromium();
}
