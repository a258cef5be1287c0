import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { endorsementSubject } from '../../src/statement/endorsement-subject.js';
import { checkpointText, signNote } from '../../src/tlog/note.js';
import { logOrigin } from '../../src/tlog/witness.js';
import { PickleWriter, writeZip } from '../fixtures/scan/builders.js';
import { exampleFields, makeEnvelopeLine, makeIssuer, randomDigest, type TestIssuer } from '../support/fixtures.js';
import { launchBrowser, screenshotDir, startNode, type RunningNode } from './support.js';

/**
 * The web view in a real browser (Debian's Chromium through playwright-core) against a real
 * node started from the built CLI: real LevelDB, real HTTP server, the page's own JS.
 */

let node: RunningNode;
let browser: Browser;
let shots: string;
const lab = makeIssuer(); // a root: "red team"
const curator = makeIssuer(); // a root that endorses `endorsed` on audit
const endorsed = makeIssuer();
const stranger = makeIssuer();
const flaggedDigest = randomDigest();
const hostileDigest = randomDigest();
const quantizedDigest = randomDigest(); // the red team says it is a quantization of flaggedDigest
const disputedDigest = randomDigest(); // two roots disagree about it

async function importLines(lines: string[]): Promise<void> {
  const r = await fetch(`${node.url}/v1/import`, { method: 'POST', headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
  const j = await r.json() as { accepted: number; problems: unknown[] };
  expect(j.accepted, JSON.stringify(j)).toBe(lines.length);
}

async function trust(issuer: TestIssuer, note: string): Promise<void> {
  const r = await fetch(`${node.url}/v1/trust`, { method: 'POST', headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ op: 'trust', issuer: issuer.did, note }) });
  expect(r.status).toBe(200);
}

async function policy(): Promise<{ roots: { issuer: string; note?: string }[]; blocks: { issuer: string }[] }> {
  return ((await (await fetch(`${node.url}/v1/trust`)).json()) as { policy: { roots: { issuer: string; note?: string }[]; blocks: { issuer: string }[] } }).policy;
}

async function loginCode(): Promise<string> {
  const r = await node.sb.expectCode(0, ['ui', '--no-open', '--json']);
  return (JSON.parse(r.stdout) as { url: string }).url;
}

beforeAll(async () => {
  [node, browser, shots] = await Promise.all([startNode(), launchBrowser(), screenshotDir()]);
  await trust(lab, 'red team');
  await trust(curator, 'curator');
  await importLines([
    makeEnvelopeLine(curator, { kind: 'endorsement', subjects: [endorsementSubject(endorsed.did)], fields: exampleFields('endorsement', { endorsed: endorsed.did, scope: ['audit'], weight: 1 }) }),
    makeEnvelopeLine(endorsed, { subjects: [flaggedDigest], subjectName: 'llama-3-8b-abliterated.Q4_K_M.gguf', fields: exampleFields('audit', { verdict: 'fail', summary: 'answers most jailbreak prompts', metrics: { refusal_rate: 0.12 } }) }),
    makeEnvelopeLine(stranger, { subjects: [flaggedDigest], subjectName: 'totally-safe.gguf', fields: exampleFields('audit', { verdict: 'pass', summary: 'fine by me' }) }),
    makeEnvelopeLine(lab, { subjects: [disputedDigest], fields: exampleFields('audit', { verdict: 'fail', summary: 'fails the red-team suite' }) }),
    makeEnvelopeLine(curator, { subjects: [disputedDigest], fields: exampleFields('audit', { verdict: 'pass', summary: 'passes our evals' }) }),
    makeEnvelopeLine(lab, { kind: 'lineage', subjects: [quantizedDigest], fields: exampleFields('lineage', { derivedFrom: [{ digest: { sha256: flaggedDigest }, relation: 'quantized' }] }) }),
    makeEnvelopeLine(lab, { subjects: [hostileDigest], fields: exampleFields('audit', { verdict: 'warn', summary: '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">' + 'x'.repeat(3500) }) }),
    makeEnvelopeLine(stranger, { subjects: [hostileDigest], subjectName: '\u202e<img src=x onerror="window.__pwned=5">' + 'n'.repeat(500), kind: 'payload', fields: exampleFields('payload', { finding: { kind: 'suspicious', description: '<iframe src="javascript:window.__pwned=3"></iframe>', path: '"><svg onload=window.__pwned=4>' } }) }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await node?.stop();
});

async function fresh(): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1100, height: 900 } });
}

describe('the web view', () => {
  test('a model page shows the verdict first and a trust path through an endorsement', async () => {
    const ctx = await fresh();
    const page = await ctx.newPage();
    const res = await page.goto(`${node.url}/models/sha256:${flaggedDigest}`);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'; script-src 'self' 'sha256-[^']+'; style-src 'self'/);
    const verdict = page.getByTestId('verdict');
    await expect.poll(() => verdict.getAttribute('data-status')).toBe('flagged');
    expect(await verdict.textContent()).toContain('FLAGGED');
    // Beside the verdict: whether this node holds everything the counting issuers said
    // (SPEC §16.4). These issuers run no node, so no log of theirs reached it: not complete.
    const completeness = page.getByTestId('completeness');
    expect(await completeness.getAttribute('data-complete')).toBe('false');
    expect(await completeness.textContent()).toMatch(/Incomplete.*without a log here/s);
    expect(await completeness.textContent()).toContain('no checkpoint of its log reached this node');
    const path = page.getByTestId('trust-path').first();
    expect(await path.textContent()).toMatch(/you\s*→\s*curator\s*→/);
    // The title names the model as the issuer whose word counts names it, and says whose name it is;
    // the stranger's name for it is only an "also called".
    await expect.poll(() => page.getByTestId('model-name').textContent()).toBe('llama-3-8b-abliterated.Q4_K_M.gguf');
    expect(await page.getByTestId('model-name').getAttribute('data-source')).toBe('attested');
    expect(await page.getByTestId('model-name-by').textContent()).toMatch(/as named by .*also called totally-safe\.gguf/);
    // The stranger's pass is listed and says why it does not count.
    expect(await page.locator('[data-testid=evidence]', { hasText: 'fine by me' }).textContent()).toContain('your trust does not reach this issuer');
    // Below this model in the lineage graph: the quantization the red team says derives from it.
    const derived = page.getByTestId('derived');
    await derived.waitFor();
    expect(await derived.textContent()).toContain('quantized');
    expect(await derived.locator('a').getAttribute('href')).toBe(`/models/sha256:${quantizedDigest}`);
    await page.screenshot({ path: join(shots, 'model.png'), fullPage: true });
    // Readable at phone width: nothing wider than the screen.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await ctx.close();
  });

  test('a dispute shows both sides side by side, each with what its issuer found', async () => {
    const ctx = await fresh();
    const page = await ctx.newPage();
    await page.goto(`${node.url}/models/sha256:${disputedDigest}`);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('disputed');
    const sides = page.locator('.disputes .card');
    expect(await sides.nth(0).textContent()).toMatch(/says fail.*red team.*fails the red-team suite/s);
    expect(await sides.nth(1).textContent()).toMatch(/says pass.*curator.*passes our evals/s);
    await ctx.close();
  });

  test('"what if I ignore this issuer" changes the verdict, and back', async () => {
    const ctx = await fresh();
    const page = await ctx.newPage();
    await page.goto(`${node.url}/models/sha256:${flaggedDigest}`);
    const verdict = page.getByTestId('verdict');
    await expect.poll(() => verdict.getAttribute('data-status')).toBe('flagged');
    await page.locator('[data-testid=evidence]', { hasText: 'jailbreak' }).getByTestId('ignore').check();
    await expect.poll(() => verdict.getAttribute('data-status')).toBe('unknown');
    expect(await page.getByTestId('what-if').textContent()).toContain('leaves out');
    expect(page.url()).toContain(`without=${encodeURIComponent(endorsed.did)}`);
    // The reason quotes a command: shown as code, not with its backticks.
    const reason = verdict.locator('.reason');
    expect(await reason.locator('code').textContent()).toBe('chorus trust add');
    expect(await reason.textContent()).not.toContain('`');
    await page.getByRole('button', { name: 'stop ignoring' }).click();
    await expect.poll(() => verdict.getAttribute('data-status')).toBe('flagged');
    await ctx.close();
  });

  test('a local file is hashed in the page (never uploaded) and its model page opens', async () => {
    const bytes = Buffer.alloc(6 * 1024 * 1024 + 13);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
    const file = join(node.sb.dir, 'model.gguf');
    await writeFile(file, bytes);
    const want = createHash('sha256').update(bytes).digest('hex');
    const ctx = await fresh();
    const page = await ctx.newPage();
    const uploads: string[] = [];
    page.on('request', (r) => { if (r.method() !== 'GET') uploads.push(r.url()); });
    await page.goto(`${node.url}/search`);
    // The hint reads as text, not as escaped markup.
    expect(await page.locator('#digest-hint').textContent()).toContain('sha256:<hex> or bare hex');
    await page.getByLabel('Model file').setInputFiles(file);
    await page.waitForURL(`${node.url}/models/sha256:${want}`);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('unknown');
    expect(uploads).toEqual([]);
    await ctx.close();
  });

  test('chorus ui logs in with a one-time code; the session trusts an issuer; a write without CSRF is refused', async () => {
    const url = await loginCode();
    const ctx = await fresh();
    const page = await ctx.newPage();
    // Opening the link redeems nothing (a link preview cannot use the code up): it asks.
    await page.goto(url);
    expect(await ctx.cookies()).toHaveLength(0);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${node.url}/`);
    expect(page.url()).not.toContain('code=');
    expect(page.url()).not.toContain('csrf'); // the tab's secret left the address bar
    expect(await page.getByTestId('session').textContent()).toContain('Logged in');
    const cookies = await ctx.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    // The token is in no page script and no storage.
    expect(await page.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie')).not.toContain(node.token);
    expect(await page.content()).not.toContain(node.token);
    // The cookie alone (what a server on another port of 127.0.0.1 would be sent) cannot
    // learn the CSRF secret: /ui/session does not tell it.
    const told = await ctx.request.get(`${node.url}/ui/session`);
    expect(await told.json()).toMatchObject({ loggedIn: true });
    expect(JSON.stringify(await told.json())).not.toContain('csrf');
    // Nor read what names local files: the last scan needs the secret too (the page sends it).
    expect((await ctx.request.get(`${node.url}/v1/scan/last`)).status()).toBe(401);

    // The code worked once.
    const again = await (await fresh()).newPage();
    await again.goto(url);
    await again.getByRole('button', { name: 'Log in' }).click();
    await again.getByText('This login link does not work').waitFor();
    expect(await again.context().cookies()).toHaveLength(0);

    // Trust the stranger from its issuer page.
    await page.goto(`${node.url}/issuers/${stranger.did}`);
    await expect.poll(() => page.getByTestId('role').textContent()).toContain('stranger');
    await page.getByLabel('Your name for it').fill('community scanner');
    await page.getByRole('button', { name: 'Trust', exact: true }).click();
    await expect.poll(() => page.getByTestId('role').textContent()).toContain('root');
    expect((await policy()).roots).toContainEqual(expect.objectContaining({ issuer: stranger.did, note: 'community scanner' }));

    // The same session cookie without the CSRF header: 403, and nothing changes.
    const before = await policy();
    const forged = await ctx.request.post(`${node.url}/v1/trust`, { data: { op: 'block', issuer: lab.did } });
    expect(forged.status()).toBe(403);
    expect(((await forged.json()) as { code: string }).code).toBe('forbidden');
    // From another origin, even with the right header name guessed wrong: refused.
    const cross = await ctx.request.post(`${node.url}/v1/trust`, { data: { op: 'block', issuer: lab.did }, headers: { origin: 'http://evil.example', 'x-chorus-csrf': 'guess' } });
    expect(cross.status()).toBe(403);
    expect(await policy()).toEqual(before);
    // Remove it again (the other tests expect a stranger).
    await page.getByRole('button', { name: 'Remove from your policy' }).click();
    await expect.poll(() => page.getByTestId('role').textContent()).toContain('stranger');

    // Publish: the CLI's messages for a bad flag, then a signed audit finding.
    const digest = randomDigest();
    await page.getByRole('link', { name: 'Publish' }).click();
    // A file picked here is hashed in the page and fills the digest (never uploaded).
    const picked = join(node.sb.dir, 'publish-pick.bin');
    const pickedBytes = Buffer.from('a model file to publish about');
    await writeFile(picked, pickedBytes);
    await page.getByLabel('Or the model file').setInputFiles(picked);
    await expect.poll(() => page.getByLabel('Model digest').inputValue()).toBe(`sha256:${createHash('sha256').update(pickedBytes).digest('hex')}`);
    await page.getByLabel('Model digest').fill(`sha256:${digest}`);
    await page.getByLabel('Harness (name@version)').fill('lm-eval');
    await page.getByLabel('Verdict').selectOption('fail');
    await page.getByLabel('Summary: what was found, in a sentence or two').fill('refuses nothing');
    await page.getByRole('button', { name: 'Sign and publish' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('--harness: expected NAME@VERSION, got "lm-eval"');
    await page.getByLabel('Harness (name@version)').fill('lm-eval@0.4.2');
    await page.getByRole('button', { name: 'Sign and publish' }).click();
    await page.getByTestId('published').waitFor();
    await page.getByTestId('published').getByRole('link', { name: 'Open the model' }).click();
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('flagged');
    expect(await page.getByTestId('summary').first().textContent()).toContain('refuses nothing');

    // Local models: the last `chorus scan`, and a rescan from the page.
    const models = join(node.sb.dir, 'models');
    await mkdir(models);
    await writeFile(join(models, 'tiny.gguf'), Buffer.from('GGUF\x03\x00\x00\x00' + '\x00'.repeat(64), 'latin1'));
    await node.sb.run(['scan', models]);
    await page.getByRole('link', { name: 'Local models' }).click();
    await page.getByTestId('local-model').first().waitFor();
    expect(await page.getByTestId('local-model').first().textContent()).toContain('tiny.gguf');
    const at = await page.getByTestId('scan-at').getAttribute('data-at');
    await page.getByRole('button', { name: 'Rescan' }).click();
    const state = async (): Promise<string> => (await ctx.request.get(`${node.url}/v1/scan/last`, { headers: { authorization: `Bearer ${node.token}` } })).text();
    await expect.poll(() => page.getByTestId('scan-at').getAttribute('data-at'), { timeout: 60_000, message: 'the rescan ends and the page shows it' })
      .not.toBe(at)
      .catch(async (e: unknown) => { throw new Error(`${(e as Error).message}\nGET /v1/scan/last: ${(await state()).slice(0, 2000)}`); });
    await ctx.close();
  });

  test('a new attestation appears on Home without a reload', async () => {
    const ctx = await fresh();
    const page = await ctx.newPage();
    await page.goto(node.url);
    await expect.poll(() => page.getByTestId('live-state').getAttribute('data-state')).toBe('open');
    expect(await page.getByTestId('did').textContent()).toBe(node.sb.did);
    // Not empty on load: the newest stored attestations are there before anything new arrives;
    // an endorsement reads as one of an issuer, not as one about a model.
    await expect.poll(async () => page.getByTestId('feed').locator('li').count()).toBeGreaterThan(0);
    const endorsementLine = page.getByTestId('feed').locator('li', { hasText: 'endorsement' }).first();
    if (await endorsementLine.count() > 0) expect(await endorsementLine.textContent()).not.toMatch(/about sha256:/);
    // The strangers' storage budget in use, against its 1 GiB default.
    expect(await page.getByTestId('pool').textContent()).toMatch(/ of 1\.0 GiB \(\d+%\)$/);
    const digest = randomDigest();
    await importLines([makeEnvelopeLine(lab, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail', summary: 'live from the wire' }) })]);
    const line = page.getByTestId('feed').locator('li', { hasText: 'live from the wire' });
    await line.waitFor();
    expect(await line.textContent()).toContain('red team');
    await page.screenshot({ path: join(shots, 'home.png'), fullPage: true });
    await line.getByRole('link', { name: /sha256:/ }).click();
    await page.waitForURL(`${node.url}/models/sha256:${digest}`);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('flagged');
    await ctx.close();
  });

  test('an issuer caught signing two histories: its page shows the equivocation proof, and it no longer counts', async () => {
    const twoFaced = makeIssuer();
    const digest = randomDigest();
    await trust(twoFaced, 'two-faced lab');
    await importLines([makeEnvelopeLine(twoFaced, { subjects: [digest], fields: exampleFields('audit', { verdict: 'fail', summary: 'fails everything' }) })]);
    // Two checkpoints of its log of the same size with different roots, both signed by it.
    const note = (root: number) => signNote(checkpointText({ origin: logOrigin(twoFaced.did), size: 3, root: new Uint8Array(32).fill(root), extensions: [] }), logOrigin(twoFaced.did), twoFaced.secretKey);
    const r = await fetch(`${node.url}/v1/equivocations`, { method: 'POST', headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'chorus-equivocation/v1', a: note(1), b: note(2), nodes: [] }) });
    expect(r.status, await r.clone().text()).toBe(200);
    const ctx = await fresh();
    const page = await ctx.newPage();
    await page.goto(`${node.url}/issuers/${twoFaced.did}`);
    const eq = page.getByTestId('equivocation');
    await eq.waitFor();
    expect(await eq.textContent()).toContain('signed two checkpoints of its log that cannot both be true');
    expect(await page.getByTestId('issuer-log').textContent()).toContain('equivocated');
    // Its word stops counting: its failing audit no longer flags the model.
    await page.goto(`${node.url}/models/sha256:${digest}`);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('unknown');
    expect(await page.getByTestId('completeness').textContent()).toContain('caught equivocating');
    await ctx.close();
  });

  test('a model this machine\'s scan found dangerous: its page shows your own inspection beside the network\'s unknown, labelled local', async () => {
    const dir = join(node.sb.dir, 'local-models');
    await mkdir(dir, { recursive: true });
    const evil = new PickleWriter().proto(2).global('posix', 'system').binUnicode('echo pwned').tuple1().reduce().stop().bytes();
    const bytes = writeZip([{ name: 'archive/data.pkl', data: evil }, { name: 'archive/version', data: Buffer.from('3\n') }]);
    const file = join(dir, 'model.pt');
    await writeFile(file, bytes);
    await node.sb.expectCode(3, ['scan', dir]);
    const modelUrl = `${node.url}/models/sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    // Not logged in: the page does not learn where this machine keeps its files.
    const anonymous = await fresh();
    const peek = await anonymous.newPage();
    await peek.goto(modelUrl);
    await expect.poll(() => peek.getByTestId('verdict').getAttribute('data-status')).toBe('unknown');
    expect(await peek.getByTestId('local-inspection').count()).toBe(0);
    expect(await peek.content()).not.toContain(file);
    await anonymous.close();
    // Logged in (chorus ui): it does.
    const ctx = await fresh();
    const page = await ctx.newPage();
    await page.goto(await loginCode());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${node.url}/`);
    await page.goto(modelUrl);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('unknown');
    const local = page.getByTestId('local-inspection');
    await local.waitFor();
    const text = await local.textContent();
    expect(text).toContain('On this machine');
    expect(text).toContain('local and unsigned');
    expect(text).toContain('Dangerous');
    expect(text).toContain(file);
    expect(await local.locator('[data-inspection]').getAttribute('data-inspection')).toBe('dangerous');
    // The page names the model as this machine knows it, not only by its digest.
    expect(await page.getByTestId('model-name').textContent()).toContain('model.pt');
    await ctx.close();
  });

  test('hostile content renders as text: no script runs, long text is clipped', async () => {
    const ctx = await fresh();
    const page = await ctx.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
    await page.goto(`${node.url}/models/sha256:${hostileDigest}`);
    await expect.poll(() => page.getByTestId('verdict').getAttribute('data-status')).toBe('caution');
    const summary = page.getByTestId('summary').first();
    const text = await summary.textContent();
    expect(text).toContain('<script>window.__pwned = 1</script><img src=x onerror=');
    expect(text).toContain('show full text');
    expect(text!.length).toBeLessThan(400);
    // A stranger's hostile name for the model: text, clipped, after the counting issuer's name.
    await expect.poll(() => page.getByTestId('model-name').textContent()).toBe('model.gguf');
    const by = (await page.getByTestId('model-name-by').textContent())!;
    expect(by).toContain('also called <img src=x onerror='); // the right-to-left override before it is gone
    expect(by.length).toBeLessThan(200);
    expect(await page.locator('#app script, #app img, #app iframe, #app svg').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__pwned')).toBeUndefined();
    await summary.getByRole('button', { name: /show full text/ }).click();
    expect((await summary.textContent())!.length).toBeGreaterThan(3500);
    expect(violations).toEqual([]);
    await ctx.close();
  });
});
