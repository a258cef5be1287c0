/**
 * bench:web — how fast the web view's model page renders the worst case it is built for:
 * one digest with 1,000 attestations, all by issuers you trust (every one is listed).
 *
 * Measured in headless Chromium (Debian's, via playwright-core) against the real node
 * started from the built CLI: navigation start to the page's `chorus:model-rendered`
 * performance mark (set once the verdict and the evidence list are in the DOM). References
 * from the same run: the JSON the page asks for (GET /v1/models/:digest/reputation, timed
 * from this process and inside the page), and the app shell with no data (/search).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { exampleFields, makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { logger, mark, median, startBenchDaemon, stopChild } from './kit.js';

const ATTESTATIONS = 1_000;
const RUNS = 7;
const COLD_RUNS = 5;
const GOAL_MS = 300;
const CHROMIUM = '/usr/bin/chromium';

const log = logger('bench:web');
const ms = (n: number): string => `${n.toFixed(0)} ms`;


/** Navigation start to the page's render mark, and the page's own fetch of the view. */
async function modelPage(page: Page, url: string): Promise<{ render: number; fetch: number; items: number }> {
  await page.goto(url);
  // The page marks and flags its body in the same effect, once the view is rendered.
  await page.waitForSelector('body[data-rendered]', { state: 'attached', timeout: 30_000 });
  return page.evaluate<{ render: number; fetch: number; items: number }>(`(() => {
    const mark = performance.getEntriesByName('chorus:model-rendered')[0];
    const res = performance.getEntriesByType('resource').find((e) => e.name.includes('/reputation'));
    return { render: mark.startTime, fetch: res ? res.responseEnd - res.startTime : NaN, items: document.querySelectorAll('[data-testid=evidence]').length };
  })()`);
}

async function shell(page: Page, url: string): Promise<number> {
  await page.goto(url);
  await page.waitForSelector('#page-title');
  return page.evaluate<number>('performance.now()');
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`bench:web needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-web-'));
  let daemon: { child: ChildProcess; url: string } | undefined;
  let browser: Browser | undefined;
  try {
    const home = resolveHome({}, join(dir, 'home'));
    await initHome(home);
    log(`signing ${ATTESTATIONS} attestations about one digest by ${ATTESTATIONS} trusted issuers…`);
    const digest = 'ab'.repeat(32);
    const issuers = Array.from({ length: ATTESTATIONS }, () => makeIssuer());
    const verdicts = ['pass', 'pass', 'pass', 'warn', 'fail'];
    const lines = issuers.map((iss, i) => makeEnvelopeLine(iss, { subjects: [digest], fields: exampleFields('audit', { verdict: verdicts[i % verdicts.length], summary: `run ${i}: ${'a long finding '.repeat(i % 30)}`, metrics: { refusal_rate: (i % 100) / 100, run: i } }) }));
    await replaceRoots(home.trust, issuers.map((iss, i) => ({ issuer: iss.did, note: `lab ${i}` })), new Date());
    daemon = await startBenchDaemon(home.root);
    const token = (await readFile(home.token, 'utf8')).trim();
    const imp = await fetch(`${daemon.url}/v1/import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
    const tally = await imp.json() as { accepted: number };
    if (tally.accepted !== ATTESTATIONS) throw new Error(`import accepted ${tally.accepted}`);

    const api: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const v = await (await fetch(`${daemon.url}/v1/models/sha256:${digest}/reputation`)).json() as { byPredicate: Record<string, { attestations: unknown[] }> };
      api.push(performance.now() - t0);
      if (i === 0) log(`view lists ${v.byPredicate['audit']?.attestations.length ?? 0} attestations`);
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const url = `${daemon.url}/models/sha256:${digest}`;
    // First visits: each in a new browser context (no cache, no connection, a new renderer),
    // beside the same for the app shell with no data, the floor any page of this app pays.
    const colds: { render: number }[] = [];
    const coldShells: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const a = await browser.newContext();
      colds.push(await modelPage(await a.newPage(), url));
      await a.close();
      const b = await browser.newContext();
      coldShells.push(await shell(await b.newPage(), `${daemon.url}/search`));
      await b.close();
    }
    const cold = { render: median(colds.map((c) => c.render)) };
    const ctx = await browser.newContext();
    const warm: { render: number; fetch: number; items: number }[] = [];
    const shells: number[] = [];
    // One tab, as a user clicking around: the page is loaded again, assets come from the cache.
    const page = await ctx.newPage();
    for (let i = 0; i < RUNS; i++) {
      warm.push(await modelPage(page, url));
      shells.push(await shell(page, `${daemon.url}/search`));
    }
    const render = median(warm.map((w) => w.render));
    const rows = [
      ['model page, 1,000 attestations (same tab, cached assets, median of 7)', ms(render), `< ${GOAL_MS} ms`, mark(render < GOAL_MS)],
      [`model page, first visit (new browser context, median of ${COLD_RUNS})`, ms(cold.render), `< ${GOAL_MS} ms`, mark(cold.render < GOAL_MS)],
      ['reference: GET …/reputation from this process (median)', ms(median(api)), '', ''],
      ['reference: the same fetch inside the page (median)', ms(median(warm.map((w) => w.fetch))), '', ''],
      ['reference: app shell with no data (/search, same tab, median)', ms(median(shells)), '', ''],
      [`reference: app shell with no data, first visit (new context, median of ${COLD_RUNS})`, ms(median(coldShells)), '', ''],
    ];
    process.stdout.write(`\nbench:web — Chromium ${browser.version()}, ${cpus().length} CPUs, load average ${loadavg()[0]?.toFixed(1)}; ${warm[0]?.items ?? 0} evidence items in the DOM of ${ATTESTATIONS} listed (the rest behind "show all")\n\n`);
    process.stdout.write('| measure | figure | goal | |\n|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    await browser?.close();
    if (daemon) await stopChild(daemon.child);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
