import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { freeBytes, REOPEN_FREE_BYTES } from '../../node/store/disk-full.js';
import { verifyStore } from '../../node/store/verify-store.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { mountSmallFs, smallFsUnavailable, type SmallFsKind } from '../support/small-fs.js';
import { tempDir } from '../support/temp-dir.js';

/** How long a write may take to succeed again once space is freed (the issue's bound, a poll limit). */
const RECOVERY_LIMIT_MS = 30_000;

const start = (root: string): Promise<Daemon> => startDaemon(resolveHome({}, root), {
  env: {},
  overrides: { 'api.port': 0, 'api.writeRateLimitPerMinute': 100_000, 'net.enabled': false },
  logger: makeLogger('silent', false),
});

// LevelDB keeps a failed background write (a flush, a compaction) as its error until it is
// reopened. The fill is incompressible and leaves 4 MiB, so that a flush runs out of space,
// not only a log write. ext4 on a loop device is a real block file system; both need root.
describe.each<SmallFsKind>(['ext4', 'tmpfs'])('a full disk (%s)', (kind) => {
  const unavailable = smallFsUnavailable(kind);
  it.skipIf(unavailable !== undefined)(`writes answer 507 storage_full, /healthz is degraded, and both recover once space frees, without a restart${unavailable ? ` (skipped: ${unavailable})` : ''}`, async () => {
    await using fs = await mountSmallFs(kind, 32);
    const root = join(fs.path, 'home');
    const home = resolveHome({}, root);
    await initHome(home);
    const token = (await readFile(home.token, 'utf8')).trim();
    const issuer = makeIssuer();
    const acked: string[] = [];
    const refused: string[] = [];
    let daemon = await start(root);
    try {
      let n = 0;
      // Random (incompressible) blobs: LevelDB's compression cannot make room.
      const publish = async (): Promise<Response> => {
        const r = await fetch(`${daemon.url}/v1/attestations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { n: n++, blob: randomBytes(24_000).toString('base64') } }),
        });
        const body = await r.clone().json() as { id?: string; details?: { id?: string } };
        if (r.status === 201) acked.push(body.id!);
        if (r.status === 507) refused.push(body.details!.id!);
        return r;
      };
      // Most of the space goes to a file deleted later, to free it again.
      await writeFile(join(fs.path, 'filler'), Buffer.alloc((await fs.free()) - 4 * 2 ** 20));

      let full: Response | undefined;
      while (full === undefined) {
        expect(n, 'the file system never filled up').toBeLessThan(1_000);
        const r = await publish();
        if (r.status !== 201) full = r;
      }
      expect(full.status, await full.clone().text()).toBe(507);
      expect(await full.json()).toMatchObject({ code: 'storage_full' });
      const health = await fetch(`${daemon.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ ok: false, status: 'degraded', reason: 'storage_full' });
      // Still full: still 507, still degraded.
      expect((await publish()).status).toBe(507);
      expect((await fetch(`${daemon.url}/healthz`)).status).toBe(503);
      // Reads go on.
      expect(acked.length).toBeGreaterThan(0);
      expect((await fetch(`${daemon.url}/v1/attestations/${acked[0]}`)).status).toBe(200);

      // Readers all along the recovery: the store's reopen must not fail a read.
      let reading = true;
      const failedReads: string[] = [];
      const readers = Promise.all([0, 1, 2, 3].map(async (r) => {
        for (let i = r; reading; i++) {
          const res = await fetch(`${daemon.url}/v1/attestations/${acked[i % acked.length]!}`);
          if (res.status !== 200) failedReads.push(`${res.status} ${await res.text()}`);
          else await res.arrayBuffer();
        }
      }));
      await rm(join(fs.path, 'filler'));
      const deadline = Date.now() + RECOVERY_LIMIT_MS;
      let again = await publish();
      while (again.status === 507 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        again = await publish();
      }
      reading = false;
      await readers;
      expect(again.status, await again.clone().text()).toBe(201);
      expect(failedReads).toEqual([]);
      expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      expect(metrics).toMatch(/^chorus_store_full 0$/m);
      expect(metrics).toMatch(/^chorus_store_reopens_total [1-9]/m);

      // Every 201 is stored, none of the 507s is: now, and after a restart (on disk, not just in memory).
      const check = async (): Promise<void> => {
        for (const id of acked) expect((await fetch(`${daemon.url}/v1/attestations/${id}`)).status, `acknowledged ${id}`).toBe(200);
        for (const id of refused) expect((await fetch(`${daemon.url}/v1/attestations/${id}`)).status, `refused ${id}`).toBe(404);
        expect(daemon.node.store.size).toBe(acked.length);
      };
      await check();
      await daemon.stop();
      daemon = await start(root);
      await check();
    } finally {
      await daemon.stop();
    }
  });
});

describe('a batch refused for lack of space whose log record still reached the disk', () => {
  // LevelDB returns the error of a failed sync after writing the log record: the reopen replays it.
  it('is not stored once the store has recovered, and the counters match the disk', async () => {
    await using dir = await tempDir();
    expect(await freeBytes(dir.path), 'the temp dir needs space for the reopen').toBeGreaterThanOrEqual(REOPEN_FREE_BYTES);
    const store = await AttestationStore.open(dir.path);
    try {
      const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS });
      const issuer = makeIssuer();
      expect((await ingestor.ingest(makeEnvelopeLine(issuer))).outcome).toBe('accept');

      const write = Level.prototype.batch;
      // A fault a file system cannot be made to produce on cue: written, then "no space" from the sync.
      const spy = vi.spyOn(Level.prototype, 'batch').mockImplementationOnce(async function (this: Level, ...args: unknown[]) {
        await (write as (...a: unknown[]) => Promise<void>).apply(this, args);
        throw Object.assign(new Error('IO error: 000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      } as unknown as typeof write);
      const refused = await ingestor.ingest(makeEnvelopeLine(issuer));
      spy.mockRestore();
      expect(refused.code).toBe('storage_full');
      expect(store.isFull).toBe(true);

      const next = await ingestor.ingest(makeEnvelopeLine(issuer));
      expect(next.outcome).toBe('accept');
      expect(store.isFull).toBe(false);
      expect(store.reopens).toBe(1);
      expect(await store.get(refused.id!)).toBeUndefined();
      expect(store.size).toBe(2);
      expect(store.issuerUsage(issuer.did).attestations).toBe(2);
      expect((await verifyStore(store, nativeSuite())).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
