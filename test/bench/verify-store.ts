/**
 * `chorus verify-store` streams (issue 25): `npm run bench:verify-store [-- --quick]`. A
 * benchmark, never a test. One store grown in two steps (quick: 25,000 then 100,000
 * attestations, 100 per issuer, 4 per digest; full: 100,000 then 400,000); after each, the
 * built CLI's `verify-store` in a child, its peak RSS polled from /proc. Memory that does not
 * grow with the store is the goal; its reference is the import of the same attestations in
 * this run (the rate a store is checked at, beside the rate it was filled at).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { cliEnv, exited, fmt, logger, QUICK, spawnCli, table } from './kit.js';

const log = logger('bench:verify-store');
const STEPS = QUICK ? [25_000, 100_000] : [100_000, 400_000];
const GOAL_MB = 300;

async function peakRss(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024;
}

const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-verify-'));
try {
  const home = resolveHome({}, dir);
  await initHome(home);
  const issuers: TestIssuer[] = [];
  const rows: string[][] = [];
  let stored = 0;
  for (const target of STEPS) {
    log(`signing and importing ${fmt(target - stored)} attestations (to ${fmt(target)})…`);
    const lines: string[] = [];
    for (let i = stored; i < target; i++) {
      if (i % 100 === 0) issuers.push(makeIssuer());
      lines.push(makeEnvelopeLine(issuers[Math.floor(i / 100)]!, { subjects: [(Math.floor(i / 4)).toString(16).padStart(64, '0')], fields: exampleFields('audit', { metrics: { run: i } }) }));
    }
    const node = await LocalNode.open(home, { env: {} });
    const t0 = performance.now();
    await node.ingestor.ingestMany(lines, () => undefined);
    const importRate = lines.length / ((performance.now() - t0) / 1000);
    await node.close();
    stored = target;

    log(`verify-store over ${fmt(stored)}…`);
    const started = performance.now();
    const child = spawnCli(['verify-store', '--json'], { home: dir, env: cliEnv(dir), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    let peak = 0;
    const poll = setInterval(() => void peakRss(child.pid as number).then((mb) => (peak = Math.max(peak, mb))), 100);
    const code = await exited(child);
    clearInterval(poll);
    const seconds = (performance.now() - started) / 1000;
    const report = JSON.parse(out) as { records: number; ok: boolean };
    if (code !== 0 || !report.ok || report.records !== stored) throw new Error(`verify-store: exit ${code}, ${out.slice(0, 500)}`);
    rows.push([`verify-store, ${fmt(stored)} attestations`, `peak RSS ${fmt(peak)} MB; ${fmt(seconds, 1)} s (${fmt(stored / seconds)}/s)`, `import of the last ${fmt(lines.length)} in this run: ${fmt(importRate)}/s`, `< ${GOAL_MB} MB`, peak < GOAL_MB ? 'PASS' : 'MISS']);
  }
  const [small, large] = rows.map((r) => Number(/peak RSS ([\d,]+)/.exec(r[1]!)?.[1]?.replace(/,/g, '')));
  rows.push([`peak RSS growth, ${fmt(STEPS[0]!)} -> ${fmt(STEPS[1]!)}`, `${fmt(((large! - small!) / (STEPS[1]! - STEPS[0]!)) * 10_000, 1)} MB per 10,000 attestations`, 'before streaming (issue 25): +19 MB per 10,000 (1.9 GB at 1M)', 'flat', large! - small! < 30 ? 'PASS' : 'MISS']);
  console.log(`\nbench:verify-store${QUICK ? ' (quick)' : ''} — the built CLI in a child, peak RSS from /proc (VmHWM)`);
  console.log(table(['figure', 'measured', 'reference (same run)', 'goal', ''], rows));
} finally {
  await rm(dir, { recursive: true, force: true });
}
