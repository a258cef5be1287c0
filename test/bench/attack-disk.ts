/**
 * Figure: a full disk, then space freed. The daemon (in process, on ext4 on a loop device:
 * a real block file system, where LevelDB keeps a failed background write until reopened)
 * is filled until a write answers 507; then a filler file is deleted and a write is tried
 * every 50 ms. Measured: the time from "space freed" to the first 201. Baseline: what the
 * alternative, a restart, takes on the same data dir, and a write's latency before the
 * disk filled. Goal (issue 20): under 30 s, without a restart, nothing acknowledged lost.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { mountSmallFs, smallFsUnavailable } from '../support/small-fs.js';
import { log, type Row } from './attack-kit.js';
import { fmt, met, pct, sleep, sorted } from './kit.js';

const FIGURE = 'disk full: space freed → first 201';
const GOAL_MS = 30_000;
/** Writes timed before the filler goes in. */
const WARM_WRITES = 20;

export async function figureDiskFull(root: string, rows: Row[]): Promise<void> {
  const unavailable = smallFsUnavailable('ext4');
  if (unavailable !== undefined) {
    rows.push([FIGURE, 'skipped', '—', '< 30 s, no restart', `skipped: ${unavailable}`]);
    return;
  }
  log('figure disk full: a daemon on a 32 MiB ext4 loop device, filled, then space freed…');
  await using fs = await mountSmallFs('ext4', 32, root);
  const home = resolveHome({}, join(fs.path, 'home'));
  await initHome(home);
  const token = (await readFile(home.token, 'utf8')).trim();
  const start = (): Promise<Daemon> => startDaemon(home, {
    env: {},
    overrides: { 'api.port': 0, 'api.writeRateLimitPerMinute': 1_000_000, 'net.enabled': false },
    logger: makeLogger('silent', false),
  });
  const issuer = makeIssuer();
  let n = 0;
  let acked = 0;
  let daemon = await start();
  try {
    const publish = async (): Promise<number> => {
      const res = await fetch(`${daemon.url}/v1/attestations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { n: n++, blob: randomBytes(24_000).toString('base64') } }),
      });
      await res.arrayBuffer();
      if (res.status === 201) acked++;
      return res.status;
    };
    const warm: number[] = [];
    for (let i = 0; i < WARM_WRITES; i++) {
      const s = performance.now();
      await publish();
      warm.push(performance.now() - s);
    }
    await writeFile(join(fs.path, 'filler'), Buffer.alloc((await fs.free()) - 4 * 2 ** 20));
    let status = 201;
    while (status === 201 && n < 2_000) status = await publish();
    if (status !== 507) {
      rows.push([FIGURE, `never 507 (last ${status} after ${fmt(n)} writes)`, '—', '< 30 s, no restart', met(false)]);
      return;
    }
    await rm(join(fs.path, 'filler'));
    const freed = performance.now();
    while ((status = await publish()) === 507 && performance.now() - freed < 2 * GOAL_MS) await sleep(50);
    const recoveredMs = performance.now() - freed;
    const healthy = (await fetch(`${daemon.url}/healthz`)).status === 200;
    const reopens = daemon.node.store.reopens;
    const stored = daemon.node.store.size;

    const s = performance.now();
    await daemon.stop();
    daemon = await start();
    const restartMs = performance.now() - s;
    const lost = acked - daemon.node.store.size;

    const ok = status === 201 && recoveredMs < GOAL_MS && healthy && lost === 0 && stored === acked;
    rows.push([
      FIGURE,
      status === 201 ? `${fmt(recoveredMs)} ms (${reopens} reopen${reopens === 1 ? '' : 's'}, ${healthy ? 'healthz 200' : 'healthz not 200'}, ${fmt(lost)} of ${fmt(acked)} acknowledged lost)` : `no 201 within ${fmt(2 * GOAL_MS / 1000)} s`,
      `restart ${fmt(restartMs)} ms; a write before full p50 ${fmt(pct(sorted(warm), 0.5), 1)} ms`,
      '< 30 s, no restart, nothing lost',
      met(ok),
    ]);
  } finally {
    await daemon.stop();
  }
}
