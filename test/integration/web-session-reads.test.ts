import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/**
 * What a web session's cookie alone may read. Browsers send a 127.0.0.1 cookie to every port
 * of 127.0.0.1, so a server on another local port receives it: with the cookie alone it must
 * read nothing private. The node's own page also holds the session's CSRF secret.
 */

/** Logs in as `chorus ui` does: a code minted with the token, redeemed by the page's POST. */
async function login(td: TestDaemon): Promise<{ cookie: string; csrf: string }> {
  const c = await fetch(`${td.url}/ui/login-code`, { method: 'POST', headers: { authorization: `Bearer ${td.token}` } });
  const { code } = await c.json() as { code: string };
  const r = await fetch(`${td.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ code }).toString() });
  expect(r.status).toBe(303);
  const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /#csrf=(.+)$/.exec(r.headers.get('location')!)![1]!;
  return { cookie, csrf };
}

describe('a web session cookie on loopback', () => {
  let td: TestDaemon;
  let s: { cookie: string; csrf: string };
  beforeAll(async () => {
    td = await startTestDaemon('chorus-session-reads-');
    s = await login(td);
  });
  afterAll(async () => {
    await td?.stop();
  });

  it('alone cannot read the last scan (it names local files); with its x-chorus-csrf header it can', async () => {
    const alone = await fetch(`${td.url}/v1/scan/last`, { headers: { cookie: s.cookie } });
    expect(alone.status).toBe(401);
    expect(await alone.json()).toMatchObject({ code: 'unauthorized' });
    const wrong = await fetch(`${td.url}/v1/scan/last`, { headers: { cookie: s.cookie, 'x-chorus-csrf': 'guess' } });
    expect(wrong.status).toBe(401);
    const both = await fetch(`${td.url}/v1/scan/last`, { headers: { cookie: s.cookie, 'x-chorus-csrf': s.csrf } });
    expect(both.status).toBe(200);
    expect(await both.json()).toMatchObject({ running: false, last: null });
  });

  it('never gets the data dir from /v1/status, with or without the header (only the token does)', async () => {
    for (const headers of [{ cookie: s.cookie }, { cookie: s.cookie, 'x-chorus-csrf': s.csrf }]) {
      const body = await (await fetch(`${td.url}/v1/status`, { headers })).json() as Record<string, unknown>;
      expect(body).not.toHaveProperty('home');
    }
  });
});

describe('a web session cookie when api.requireTokenForReads is on', () => {
  let td: TestDaemon;
  let s: { cookie: string; csrf: string };
  beforeAll(async () => {
    td = await startTestDaemon('chorus-session-reads-private-', { 'api.requireTokenForReads': true });
    s = await login(td);
  });
  afterAll(async () => {
    await td?.stop();
  });

  it('alone reads nothing; with its x-chorus-csrf header it reads like the token', async () => {
    for (const path of ['/v1/status', '/v1/trust', '/v1/attestations']) {
      expect((await fetch(`${td.url}${path}`, { headers: { cookie: s.cookie } })).status, path).toBe(401);
      expect((await fetch(`${td.url}${path}`, { headers: { cookie: s.cookie, 'x-chorus-csrf': s.csrf } })).status, path).toBe(200);
    }
    // The page shell and the session check stay open: they hold no node data.
    expect((await fetch(`${td.url}/ui/session`, { headers: { cookie: s.cookie } })).status).toBe(200);
  });

  it('an event stream opens with the cookie and the header, not with the cookie alone', async () => {
    expect((await fetch(`${td.url}/v1/events`, { headers: { cookie: s.cookie } })).status).toBe(401);
    const ac = new AbortController();
    const r = await fetch(`${td.url}/v1/events`, { headers: { cookie: s.cookie, 'x-chorus-csrf': s.csrf }, signal: ac.signal });
    expect(r.status).toBe(200);
    ac.abort();
  });
});
