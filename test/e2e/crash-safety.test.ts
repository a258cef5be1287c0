import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';
import { describeRun, makeInitialisedSandbox, REPO_ROOT, spawnCli, type Sandbox } from './run-cli.js';

/**
 * Crash safety of `chorus import`: SIGKILL it after it has acknowledged committed lines,
 * then check that the store is consistent, holds at least what was acknowledged, and
 * that re-running the import completes the job.
 */

const TOTAL = 50_000;
const ISSUERS = 50;
/** Audit fields given explicitly (the fixture's defaults are slower to build). */
const AUDIT = { harness: { name: 'lm-eval', version: '0.4.2' }, metrics: { refusal_rate: 0.97 }, verdict: 'pass' };
const PROGRESS = /progress: (\d+) lines committed, (\d+) accepted/g;
const SUMMARY = /^(\d+) lines: (\d+) accepted, (\d+) ignored, (\d+) rejected/m;

interface StoreReport {
  records: number;
  indexEntries: number;
  problems: unknown[];
  ok: boolean;
}

let sb: (Sandbox & { did: string }) | undefined;
afterAll(async () => {
  await sb?.cleanup();
});

/**
 * Writes TOTAL valid envelope lines by ISSUERS issuers. Signing 50,000 envelopes is the
 * slow part, so it is split over two child processes (worker threads gave no speed-up:
 * their signing serialised). They run outside vitest's transform, so they load the built copy of
 * test/support/fixtures.ts from dist/; without a build, this thread does it all.
 */
async function writeLines(file: string): Promise<void> {
  const built = join(REPO_ROOT, 'dist', 'test', 'support', 'fixtures.js');
  if (!existsSync(built)) return writeLinesHere(file);
  const PARTS = 2;
  const parts = Array.from({ length: PARTS }, (_, w) => `${file}.part${w}`);
  const script = `
    import { writeFileSync } from 'node:fs';
    const [fixtures, out, count, issuerCount, fields] = process.argv.slice(1);
    const { makeIssuer, makeEnvelopeLine } = await import(fixtures);
    const issuers = Array.from({ length: Number(issuerCount) }, () => makeIssuer());
    const lines = [];
    for (let i = 0; i < Number(count); i++) lines.push(makeEnvelopeLine(issuers[i % issuers.length], { fields: JSON.parse(fields) }));
    writeFileSync(out, lines.join('\\n') + '\\n');
    process.stdout.write(String(lines.length));
  `;
  const counts = await Promise.all(
    parts.map(async (out) => {
      const args = ['--input-type=module', '-e', script, pathToFileURL(built).href, out, String(TOTAL / PARTS), String(ISSUERS / PARTS), JSON.stringify(AUDIT)];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      const [code] = (await once(child, 'close')) as [number | null];
      expect(code, 'line generator failed').toBe(0);
      return Number(stdout);
    }),
  );
  expect(counts.reduce((x, y) => x + y, 0)).toBe(TOTAL);
  await writeFile(file, Buffer.concat(await Promise.all(parts.map((p) => readFile(p)))));
  await Promise.all(parts.map((p) => rm(p)));
}

/** The same, in this thread, straight from test/support/fixtures.ts (slower). */
async function writeLinesHere(file: string): Promise<void> {
  const issuers: TestIssuer[] = Array.from({ length: ISSUERS }, () => makeIssuer());
  const lines: string[] = [];
  for (let i = 0; i < TOTAL; i++) lines.push(makeEnvelopeLine(issuers[i % ISSUERS] as TestIssuer, { fields: AUDIT }));
  await writeFile(file, lines.join('\n') + '\n');
}

/** Runs `import FILE`, SIGKILLs it right after its first acknowledged progress line. */
async function importAndKill(s: Sandbox, file: string): Promise<{ acknowledged: number; killed: boolean; stderr: string; stdout: string; code: number | null }> {
  const child = spawnCli(['import', file], { home: s.home });
  let stderr = '';
  let stdout = '';
  let acknowledged = 0;
  let killed = false;
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  child.stdout?.on('data', (b: Buffer) => {
    stdout += b.toString('utf8');
  });
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    // Every progress line is printed only after its lines are on disk: all of them count,
    // including any that were already in the pipe when the kill was sent.
    for (const m of stderr.matchAll(PROGRESS)) acknowledged = Math.max(acknowledged, Number(m[2]));
    if (acknowledged > 0 && !killed && child.exitCode === null) {
      killed = child.kill('SIGKILL');
    }
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  // If it finished before the kill landed, its summary is acknowledged too.
  const summary = SUMMARY.exec(stdout);
  if (summary) acknowledged = Math.max(acknowledged, Number(summary[2]));
  return { acknowledged, killed: signal === 'SIGKILL', stderr, stdout, code };
}

describe('crash safety', () => {
  test(`import of ${TOTAL} lines killed with SIGKILL leaves a consistent store; re-running completes it`, async () => {
    sb = await makeInitialisedSandbox('chorus-e2e-crash-');
    const file = join(sb.dir, 'bulk.jsonl');
    // Phase timings, shown with any failure (the suite has a time budget).
    const laps: string[] = [];
    let t = Date.now();
    const lap = (what: string): void => {
      laps.push(`${what} ${Date.now() - t} ms`);
      t = Date.now();
    };
    await writeLines(file);
    lap('generate');

    const first = await importAndKill(sb, file);
    lap('first import');
    const context = `${laps.join(', ')}\nfirst import: code ${first.code}, killed ${first.killed}, acknowledged ${first.acknowledged}\n--- stdout\n${first.stdout}\n--- stderr\n${first.stderr.slice(0, 2000)}`;
    // Either it was killed after acknowledging some lines, or it finished cleanly.
    if (first.killed) expect(first.acknowledged, context).toBeGreaterThanOrEqual(10_000);
    else {
      expect(first.code, context).toBe(0);
      expect(first.acknowledged, context).toBe(TOTAL);
    }
    expect(first.stderr, context).not.toContain('unexpected error');

    // After the crash: every signature and index entry is consistent, and nothing acknowledged is lost.
    const vs = await sb.run(['verify-store', '--json'], { timeoutMs: 120_000 });
    lap('verify-store');
    expect(vs.code, `${context}\n${describeRun(['verify-store', '--json'], vs)}`).toBe(0);
    const report = JSON.parse(vs.stdout) as StoreReport;
    expect(report.ok, `${context}\n${vs.stdout}`).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.records, context).toBeGreaterThanOrEqual(first.acknowledged);
    expect(report.records).toBeLessThanOrEqual(TOTAL);
    const afterCrash = JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout) as { attestations: number; lastSeq: number };
    expect(afterCrash.attestations).toBe(report.records);
    expect(afterCrash.lastSeq).toBe(report.records);

    // Re-running the import finishes the job: what survived is recognised as duplicate.
    const second = await sb.run(['import', file], { timeoutMs: 180_000 });
    lap('second import');
    expect(second.code, `${laps.join(', ')}\n${describeRun(['import', file], second)}`).toBe(0);
    const m = SUMMARY.exec(second.stdout);
    expect(m, second.stdout).not.toBeNull();
    const [, lines, accepted, ignored, rejected] = (m as RegExpExecArray).map(Number);
    expect({ lines, accepted, ignored, rejected }).toEqual({ lines: TOTAL, accepted: TOTAL - report.records, ignored: report.records, rejected: 0 });

    const status = JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout) as { attestations: number; lastSeq: number };
    expect(status.attestations).toBe(TOTAL);
    expect(status.lastSeq).toBe(TOTAL);
    const final = await sb.run(['verify-store', '--json'], { timeoutMs: 120_000 });
    lap('final verify-store');
    expect(final.code, `${laps.join(', ')}\n${describeRun(['verify-store', '--json'], final)}`).toBe(0);
    const finalReport = JSON.parse(final.stdout) as StoreReport;
    expect(finalReport).toMatchObject({ records: TOTAL, ok: true, problems: [] });
    // subject, subject-issuer, issuer, arrival and time index entries, and a subject counter
    // (every line is about its own random digest): six per single-subject attestation
    expect(finalReport.indexEntries).toBe(6 * TOTAL);
  }, 300_000);
});
