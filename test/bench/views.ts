/**
 * Kept views (issue 24): `npm run bench:views [-- --quick]`. A benchmark, never a test. In
 * process, over a real LevelDB: 10 trusted issuers, 1,000 digests, 10 attestations each. The
 * cost of one view served as kept beside the same view computed (the cache off, same run),
 * and POST /v1/query's work for 1,000 digests, warm and cold, beside the goals.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { NodeService } from '../../node/service/node-service.js';
import { exampleFields, makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { fmt, logger, QUICK, table } from './kit.js';

const log = logger('bench:views');
const DIGESTS = 1_000;
const READS = QUICK ? 20_000 : 100_000;
const digest = (i: number): string => i.toString(16).padStart(64, '0');
const randomHex = (): string => randomBytes(32).toString('hex');

async function openNode(dir: string, viewCacheEntries: number): Promise<LocalNode> {
  return LocalNode.open(resolveHome({}, dir), { env: {}, overrides: { 'limits.viewCacheEntries': viewCacheEntries } });
}

const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-views-'));
try {
  const home = resolveHome({}, dir);
  await initHome(home);
  const issuers = Array.from({ length: 10 }, () => makeIssuer());
  await replaceRoots(home.trust, issuers.map((i) => ({ issuer: i.did })), new Date());
  {
    const node = await openNode(dir, 0);
    log(`storing ${fmt(DIGESTS * 10)} attestations`);
    await node.ingestor.ingestMany(Array.from({ length: DIGESTS * 10 }, (_, i) => makeEnvelopeLine(issuers[i % 10]!, { subjects: [digest(i % DIGESTS)], fields: exampleFields('audit', { verdict: i % 7 === 0 ? 'fail' : 'pass' }) })));
    await node.close();
  }
  const perView = async (node: LocalNode): Promise<number> => {
    const svc = new NodeService(node);
    for (let i = 0; i < DIGESTS; i++) await svc.view(digest(i));
    const t = performance.now();
    for (let i = 0; i < READS; i++) await svc.view(digest(i % DIGESTS));
    return ((performance.now() - t) * 1000) / READS;
  };
  const queryMs = async (node: LocalNode, cold: boolean): Promise<number> => {
    const svc = new NodeService(node);
    const all = Array.from({ length: DIGESTS }, (_, i) => digest(i));
    const runs = cold ? 5 : 20;
    let total = 0;
    for (let r = 0; r < runs; r++) {
      if (cold) node.views.clear();
      const t = performance.now();
      await svc.query(all, {});
      total += performance.now() - t;
    }
    return total / runs;
  };
  log('views computed each time (limits.viewCacheEntries 0)');
  const off = await openNode(dir, 0);
  const computed = await perView(off);
  const queryOff = await queryMs(off, false);
  await off.close();
  log('views kept');
  const on = await openNode(dir, 50_000);
  const kept = await perView(on);
  // A flood of distinct digests (each view new, as a hostile client would ask): warm reads
  // in between, timed alone, beside warm reads without the flood; and the cache's size after.
  const svcOn = new NodeService(on);
  const flood = async (withFlood: boolean): Promise<number> => {
    let warm = 0;
    for (let i = 0; i < READS / 4; i++) {
      if (withFlood) await svcOn.view(randomHex());
      const t = performance.now();
      await svcOn.view(digest(i % 100));
      warm += performance.now() - t;
    }
    return (warm * 1000) / (READS / 4);
  };
  const calm = await flood(false);
  const flooded = await flood(true);
  const afterFlood = { ...on.views.size };
  const queryWarm = await queryMs(on, false);
  const queryCold = await queryMs(on, true);
  const stats = { ...on.views.stats };
  await on.close();
  console.log(`\nbench:views${QUICK ? ' (quick)' : ''} — in process, LevelDB, ${fmt(DIGESTS)} digests × 10 attestations by 10 trusted issuers; ${fmt(READS)} reads`);
  console.log(table(['figure', 'measured', 'reference (same run)', 'goal'], [
    ['one view of a warm digest (service.view), kept', `${fmt(kept, 1)} µs`, `computed each time: ${fmt(computed, 1)} µs (${fmt(computed / kept, 1)}×)`, '—'],
    ['POST /v1/query work, 1,000 digests, warm', `${fmt(queryWarm, 1)} ms`, `computed each time: ${fmt(queryOff, 1)} ms`, '< 20 ms'],
    ['POST /v1/query work, 1,000 digests, cold (nothing kept)', `${fmt(queryCold, 1)} ms`, '—', '< 100 ms'],
    [`a warm view during a flood of ${fmt(READS / 4)} distinct new digests`, `${fmt(flooded, 1)} µs`, `the same reads without the flood: ${fmt(calm, 1)} µs (${fmt(flooded / calm, 2)}×)`, '≤ 2×'],
    ['kept views after the flood (entries, est. bytes)', `${fmt(afterFlood.entries)}, ${fmt(afterFlood.bytes / 1048576, 1)} MiB`, 'bound: limits.viewCacheEntries 50,000, viewCacheBytes 128 MiB', 'within the bound'],
    ['kept-view hits / misses', `${fmt(stats.hits)} / ${fmt(stats.misses)}`, '—', '—'],
  ]));
} finally {
  await rm(dir, { recursive: true, force: true });
}
