import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeInitialisedSandbox, startDaemon, type RunningDaemon, type Sandbox } from '../e2e/run-cli.js';
import { makeIssuer } from '../support/fixtures.js';
import { launchBrowser } from './support.js';

/*
 * The node on the LAN (issue 22), in a real browser: `chorus start --lan` serves HTTPS with a
 * certificate it made, on an address other than 127.0.0.1 (127.0.0.2: this machine's, and on
 * loopback, as every network test here must be). The page over HTTPS, pairing with a code
 * typed by hand, the Secure cookie, and what is refused: a wrong Host, reads and writes
 * without a login. And the "what a web page can cost" rows (README), held for LAN pages in
 * the browser: a page reached by another name (DNS rebinding) gets 421; a page of another
 * site in the logged-in browser reads nothing and writes nothing; the page's own writes
 * need its CSRF secret; event streams are bounded for the node, not per server.
 */

/** Names the browser resolves to this machine's loopback addresses, as a DNS rebinding attacker's name would. */
const REBIND = 'rebind.test';
const EVIL = 'evil.test';
/** At most this many event streams for the whole node (api.maxEventStreams). */
const MAX_STREAMS = 6;

let sb: Sandbox & { did: string };
let node: RunningDaemon;
let browser: Browser;
let lan: { url: string; fingerprint: string };
/** Another site: a plain page on 127.0.0.1, reached as http://evil.test:PORT/. */
let evil: Server;
let evilUrl: string;

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
  await writeFile(cfgPath, JSON.stringify({ ...cfg, api: { ...(cfg['api'] ?? {}), lanHost: '127.0.0.2', lanPort: 0, maxEventStreams: MAX_STREAMS } }));
  evil = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another site</title><p>hello</p>'));
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  evilUrl = `http://${EVIL}:${(evil.address() as { port: number }).port}`;
  [node, browser] = await Promise.all([
    startDaemon(sb, ['--lan', '--no-net']),
    launchBrowser([`--host-resolver-rules=MAP ${REBIND} 127.0.0.2, MAP ${EVIL} 127.0.0.1`]),
  ]);
  const st = JSON.parse((await sb.expectCode(0, ['status', '--json'])).stdout) as { api: { lan?: { url: string; fingerprint: string } } };
  lan = st.api.lan!;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  evil?.close();
  node?.child.kill('SIGTERM');
  if (node) await new Promise((r) => node.child.once('exit', r));
  await sb?.cleanup();
});

/** The node's trust policy, read on loopback. */
async function policy(): Promise<unknown> {
  return ((await (await fetch(`${node.url}/v1/trust`)).json()) as { policy: unknown }).policy;
}

/** A new browser context paired with a fresh code typed into the LAN login page; the ms from opening the login page to the node's status on Home. */
async function pair(): Promise<{ ctx: BrowserContext; page: Page; ms: number; code: string }> {
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
  return { ctx, page, ms: performance.now() - t0, code };
}

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
    const { ctx, ms, code } = await pair();
    console.log(`[lan] pairing to first page over HTTPS: ${Math.round(ms)} ms (goal < 2 s)`);
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

  test('in the paired page itself, a write with the page\'s CSRF secret works and the same write without it is refused', async () => {
    const { ctx, page } = await pair();
    const issuer = makeIssuer().did;
    const before = await policy();
    const post = (withSecret: boolean) => page.evaluate(async ([did, secret]) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (secret) headers['x-chorus-csrf'] = sessionStorage.getItem('chorus-csrf') ?? '';
      const r = await fetch('/v1/trust', { method: 'POST', headers, credentials: 'same-origin', body: JSON.stringify({ op: 'trust', issuer: did, note: 'from the LAN page' }) });
      return r.status;
    }, [issuer, withSecret] as const);
    // Refused before it is read as a write: on the LAN every request needs the login, the secret included.
    expect([401, 403]).toContain(await post(false));
    expect(await policy()).toEqual(before);
    expect(await post(true)).toBe(200);
    expect(JSON.stringify(await policy())).toContain(issuer);
    await ctx.close();
  });

  test('a page reached by another name (DNS rebinding onto the LAN address) gets 421 in the browser, its fetches too', async () => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const port = new URL(lan.url).port;
    const res = await page.goto(`https://${REBIND}:${port}/`);
    expect(res?.status()).toBe(421);
    const status = await page.evaluate(async () => (await fetch('/v1/status')).status);
    expect(status).toBe(421);
    // The name the node was asked by never entered its allowed hosts: still refused after the tries.
    expect((await get(`${lan.url}/v1/status`, { host: `${REBIND}:${port}` })).status).toBe(421);
    await ctx.close();
  });

  test('a page of another site, open in the paired browser, reads nothing of the LAN node and changes nothing', async () => {
    const { ctx } = await pair();
    const before = await policy();
    const page = await ctx.newPage();
    await page.goto(`${evilUrl}/`);
    const issuer = makeIssuer().did;
    const tried = await page.evaluate(async ([target, did]) => {
      const out: string[] = [];
      // A read with the browser's credentials: no CORS, so the page learns nothing.
      try {
        const r = await fetch(`${target}/v1/trust`, { credentials: 'include' });
        out.push(`read ${r.status} ${await r.text()}`);
      } catch {
        out.push('read blocked');
      }
      // Writes the page cannot read the answer of: a no-cors fetch and a form post.
      await fetch(`${target}/v1/trust`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ op: 'block', issuer: did }) }).catch(() => undefined);
      await fetch(`${target}/v1/trust`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'op=block' }).catch(() => undefined);
      return out;
    }, [lan.url, issuer] as const);
    expect(tried).toEqual(['read blocked']);
    // A form the other site submits to the node: the browser goes there, and the node refuses.
    const [answer] = await Promise.all([
      page.waitForNavigation(),
      // (Browser code as text: this file is type-checked without the DOM's types.)
      page.evaluate(`(() => {
        const f = document.createElement('form');
        f.method = 'POST';
        f.action = ${JSON.stringify(`${lan.url}/v1/trust`)};
        f.enctype = 'text/plain';
        const i = document.createElement('input');
        i.name = ${JSON.stringify(`{"op":"block","issuer":"${issuer}","x":"`)};
        i.value = '"}';
        f.appendChild(i);
        document.body.appendChild(f);
        f.submit();
      })()`),
    ]);
    expect(answer?.status()).toBeGreaterThanOrEqual(400);
    expect(await policy()).toEqual(before);
    expect(JSON.stringify(await policy())).not.toContain(issuer);
    await ctx.close();
  });

  test('event streams are bounded for the node: streams opened over the LAN and on loopback share api.maxEventStreams', async () => {
    const open = async (): Promise<number> => Number(/^chorus_event_streams (\d+)/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? NaN);
    const streams: { close(): void }[] = [];
    try {
      // The earlier tests' pages (their live feeds) are closed by now.
      await expect.poll(open, { timeout: 15_000 }).toBe(0);
      const free = MAX_STREAMS;
      for (let i = 0; i < free; i++) {
        if (i % 2 === 0) {
          const ac = new AbortController();
          const r = await fetch(`${node.url}/v1/events`, { signal: ac.signal });
          expect(r.status).toBe(200);
          streams.push({ close: () => ac.abort() });
        } else {
          const req = request(`${lan.url}/v1/events`, { headers: { authorization: `Bearer ${node.token}` }, rejectUnauthorized: false });
          const status = await new Promise<number>((resolve, reject) => { req.on('response', (res) => resolve(res.statusCode ?? 0)); req.on('error', reject); req.end(); });
          expect(status).toBe(200);
          streams.push({ close: () => req.destroy() });
        }
      }
      await expect.poll(open).toBe(MAX_STREAMS);
      // Full: one more is refused on either server.
      expect((await fetch(`${node.url}/v1/events`)).status).toBe(503);
      expect((await get(`${lan.url}/v1/events`, { authorization: `Bearer ${node.token}` })).status).toBe(503);
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('one address on the LAN holds at most 32 connections: past them a new one is closed at once, and the loopback API keeps answering', async () => {
    const u = new URL(lan.url);
    const sockets: ReturnType<typeof connect>[] = [];
    const outcome = (s: ReturnType<typeof connect>): Promise<'open' | 'closed'> => new Promise((resolve) => {
      s.once('secureConnect', () => resolve('open'));
      s.once('close', () => resolve('closed'));
      s.once('error', () => resolve('closed'));
    });
    try {
      const results: ('open' | 'closed')[] = [];
      for (let i = 0; i < 36; i++) {
        const s = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false });
        sockets.push(s);
        results.push(await outcome(s));
      }
      expect(results.filter((r) => r === 'open').length).toBeLessThanOrEqual(32);
      expect(results.slice(32)).toEqual(['closed', 'closed', 'closed', 'closed']);
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
    }
    // Once they are gone, the address connects again.
    await expect.poll(async () => (await get(`${lan.url}/healthz`)).status, { timeout: 10_000 }).toBe(200);
  });

  // Last: it locks this address out for a while.
  test('guessing tokens from the LAN is bounded: past 10 wrong ones a minute, every attempt from that address to the LAN server waits, the right token too; the loopback API does not', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(`${lan.url}/v1/status`, { authorization: `Bearer guess-${i}` })).status);
    // 401s, then (within 10 failures, the earlier test's used code counted too) 429s only.
    const first429 = statuses.indexOf(429);
    expect(first429, statuses.join(',')).toBeGreaterThanOrEqual(8);
    expect(first429).toBeLessThanOrEqual(10);
    expect(statuses.slice(0, first429).every((x) => x === 401)).toBe(true);
    expect(statuses.slice(first429).every((x) => x === 429)).toBe(true);
    expect((await get(`${lan.url}/v1/status`, { authorization: `Bearer ${node.token}` })).status).toBe(429);
    // Minting login codes is under the same bound (a wrong token there is a guess too).
    expect((await get(`${lan.url}/ui/login-code`, { authorization: 'Bearer guess-again', 'content-type': 'application/json' }, 'POST', '{}')).status).toBe(429);
    // The owner on this machine is not locked out by guessing on the LAN: the loopback API counts its own failures.
    expect((await fetch(`${node.url}/v1/status`, { headers: { authorization: `Bearer ${node.token}` } })).status).toBe(200);
    expect((await sb.run(['ui', '--no-open', '--json'])).code).toBe(0);
  });
});
