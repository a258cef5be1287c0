/**
 * bench:attack, the session-cookie row (issue 20): what a program on another local port can
 * read with a browser's session cookie alone (browsers send cookies for 127.0.0.1 to every
 * port), beside what the node's own page (cookie and its CSRF secret) and the token read.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveHome, initHome } from '../../node/home/home.js';
import type { Row } from './attack-kit.js';
import { met, startBenchDaemon, stopChild } from './kit.js';

export async function figureCookie(root: string, rows: Row[]): Promise<void> {
  const dir = await mkdtemp(join(root, 'cookie-'));
  const home = resolveHome({}, dir);
  await initHome(home);
  const token = (await readFile(home.token, 'utf8')).trim();
  const { child, url } = await startBenchDaemon(dir);
  try {
    const minted = (await (await fetch(`${url}/ui/login-code`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()) as { code: string };
    const login = await fetch(`${url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${minted.code}` });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const csrf = /csrf=([^&]+)/.exec(login.headers.get('location') ?? '')?.[1] ?? '';
    const read = async (headers: Record<string, string>): Promise<number> => (await fetch(`${url}/v1/scan/last`, { headers })).status;
    const alone = await read({ cookie });
    const page = await read({ cookie, 'x-chorus-csrf': csrf });
    const withToken = await read({ authorization: `Bearer ${token}` });
    rows.push([
      'a session cookie sent to another local port, replayed alone',
      `GET /v1/scan/last with the cookie alone: ${alone}`,
      `the node's own page (cookie + its CSRF secret): ${page}; the token: ${withToken} (issue: the cookie alone read the last scan)`,
      'the cookie alone reads nothing private (401)',
      met(alone === 401 && page !== 401 && withToken !== 401),
    ]);
  } finally {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}
