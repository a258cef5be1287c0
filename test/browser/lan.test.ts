import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeInitialisedSandbox, startDaemon, type RunningDaemon, type Sandbox } from '../e2e/run-cli.js';
import { launchBrowser } from './support.js';

/*
 * The node on the LAN (issue 22), in a real browser: `chorus start --lan` serves HTTPS with a
 * certificate it made, on an address other than 127.0.0.1 (127.0.0.2: this machine's, and on
 * loopback, as every network test here must be). The page over HTTPS, pairing with a code
 * typed by hand, the Secure cookie, and what is refused: a wrong Host, reads and writes
 * without a login.
 */

let sb: Sandbox & { did: string };
let node: RunningDaemon;
let browser: Browser;
let lan: { url: string; fingerprint: string };

/** An HTTPS request to the LAN server that accepts its self-signed certificate (the test checks its fingerprint itself). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  sb = await makeInitialisedSandbox('chorus-lan-');
  const cfgPath = join(sb.home, 'config.json');
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, Record<string, unknown>>;
  await writeFile(cfgPath, JSON.stringify({ ...cfg, api: { ...(cfg['api'] ?? {}), lanHost: '127.0.0.2', lanPort: 0 } }));
  [node, browser] = await Promise.all([startDaemon(sb, ['--lan', '--no-net']), launchBrowser()]);
  const st = JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout) as { api: { lan?: { url: string; fingerprint: string } } };
  lan = st.api.lan!;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  node?.child.kill('SIGTERM');
  if (node) await new Promise((r) => node.child.once('exit', r));
  await sb?.cleanup();
});

describe('the node on the LAN, over HTTPS', () => {
  test('the certificate the node serves is the one chorus status and chorus ui name', async () => {
    expect(lan.url).toMatch(/^https:\/\/127\.0\.0\.2:\d+$/);
    const served = await new Promise<string>((resolve, reject) => {
      const u = new URL(lan.url);
      const s = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.end();
      });
      s.on('error', reject);
    });
    expect(served).toBe(lan.fingerprint);
    const ui = await sb.expectCode(0, ['ui', '--lan']);
    expect(ui.stdout).toContain(`${lan.url}/login`);
    expect(ui.stdout).toContain(lan.fingerprint);
    expect(ui.stdout).toMatch(/pairing code:\s+[0-9A-Z]{5}-[0-9A-Z]{5}/);
  });

  test('without a login nothing is read or written; a wrong Host is refused', async () => {
    expect((await get(`${lan.url}/v1/status`)).status).toBe(401);
    expect((await get(`${lan.url}/v1/trust`)).status).toBe(401);
    const write = await get(`${lan.url}/v1/trust`, { 'content-type': 'application/json' }, 'POST', JSON.stringify({ op: 'trust', issuer: sb.did }));
    expect(write.status).toBe(401);
    const rebinding = await get(`${lan.url}/v1/status`, { host: 'attacker.example' });
    expect(rebinding.status).toBe(421);
    // The loopback API is as it was: open reads for this machine's own processes.
    expect((await fetch(`${node.url}/v1/status`)).status).toBe(200);
  });

  test('a browser on the LAN pairs with a typed code and gets a Secure session cookie; a write without the page\'s CSRF secret is refused', async () => {
    const code = (JSON.parse((await sb.expectCode(0, ['ui', '--lan', '--json'])).stdout) as { code: string }).code;
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const t0 = performance.now();
    await page.goto(`${lan.url}/login`);
    await page.getByLabel('Pairing code').fill(code.toLowerCase());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${lan.url}/`);
    // The app reads with the session: the node's status shows on Home.
    await expect.poll(async () => (await page.content()).includes(sb.did.slice(0, 20))).toBe(true);
    console.log(`[lan] pairing to first page over HTTPS: ${Math.round(performance.now() - t0)} ms (goal < 2 s)`);
    const cookies = await ctx.cookies();
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.every((c) => c.secure && c.httpOnly && c.sameSite === 'Strict')).toBe(true);
    // The cookie alone (no CSRF header): a write is refused.
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const w = await get(`${lan.url}/v1/trust`, { cookie, 'content-type': 'application/json', origin: lan.url }, 'POST', JSON.stringify({ op: 'trust', issuer: sb.did }));
    expect([401, 403]).toContain(w.status);
    // The code worked once.
    const again = await ctx.newPage();
    await again.goto(`${lan.url}/login`);
    await again.getByLabel('Pairing code').fill(code);
    await again.getByRole('button', { name: 'Log in' }).click();
    expect(await again.content()).toContain('does not work');
    await ctx.close();
  });

  // Last: it locks this address out for a while.
  test('guessing tokens from the LAN is bounded: past 10 wrong ones a minute, every attempt from that address waits, the right token too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(`${lan.url}/v1/status`, { authorization: `Bearer guess-${i}` })).status);
    // 401s, then (within 10 failures, the earlier test's used code counted too) 429s only.
    const first429 = statuses.indexOf(429);
    expect(first429, statuses.join(',')).toBeGreaterThanOrEqual(8);
    expect(first429).toBeLessThanOrEqual(10);
    expect(statuses.slice(0, first429).every((x) => x === 401)).toBe(true);
    expect(statuses.slice(first429).every((x) => x === 429)).toBe(true);
    expect((await get(`${lan.url}/v1/status`, { authorization: `Bearer ${node.token}` })).status).toBe(429);
  });
});
