import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initHome, resolveHome } from '../../node/home/home.js';
import { startDaemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';

/** Whether this process may mount a small tmpfs: the only honest way to fill a disk in a test. */
function canMount(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

describe('a full disk', () => {
  // Needs root (mount -t tmpfs): a real full file system, not a mocked error. Elsewhere skipped.
  it.skipIf(!canMount())('writes answer 507 storage_full, /healthz is degraded, and both recover once space frees, without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-disk-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', dir]);
    try {
      const home = resolveHome({}, join(dir, 'home'));
      await initHome(home);
      const token = (await readFile(home.token, 'utf8')).trim();
      const daemon = await startDaemon(home, { env: {}, overrides: { 'api.port': 0, 'api.writeRateLimitPerMinute': 100_000, 'net.enabled': false }, logger: makeLogger('silent', false) });
      try {
        const publish = (n: number) => fetch(`${daemon.url}/v1/attestations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { n, blob: 'x'.repeat(40_000) } }),
        });
        const issuer = makeIssuer();
        // Most of the space goes to a file we can delete later, to free it again.
        await writeFile(join(dir, 'filler'), Buffer.alloc(3 * 1024 * 1024));
        let n = 0;
        let full: Response | undefined;
        while (full === undefined) {
          expect(n, 'a 6 MiB file system never filled up').toBeLessThan(500);
          const r = await publish(n++);
          if (r.status !== 201) full = r;
        }
        expect(full.status, await full.clone().text()).toBe(507);
        expect(await full.json()).toMatchObject({ code: 'storage_full' });
        const health = await fetch(`${daemon.url}/healthz`);
        expect(health.status).toBe(503);
        expect(await health.json()).toEqual({ ok: false, status: 'degraded', reason: 'storage_full' });
        // Still full: still 507, still degraded.
        expect((await publish(n++)).status).toBe(507);

        await rm(join(dir, 'filler'));
        const again = await publish(n++);
        expect(again.status, await again.clone().text()).toBe(201);
        expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
      } finally {
        await daemon.stop();
      }
    } finally {
      execFileSync('umount', [dir]);
      await rmdir(dir);
    }
  });
});
