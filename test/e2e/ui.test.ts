import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { makeInitialisedSandbox, startDaemon, type Sandbox } from './run-cli.js';

/** `chorus ui` starts the browser without the login code on any command line. */

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** An initialised data dir with a node started on it, both stopped and removed after the file. */
async function runningNode(): Promise<{ sb: Sandbox; node: Awaited<ReturnType<typeof startDaemon>> }> {
  const sb: Sandbox = await makeInitialisedSandbox();
  cleanup.push(() => sb.cleanup());
  const node = await startDaemon(sb);
  cleanup.push(async () => {
    node.child.kill('SIGTERM');
    await new Promise((r) => node.child.once('exit', r));
  });
  return { sb, node };
}

describe('chorus ui', () => {
  test('the browser is started with a private page that posts the code, never with the code in its arguments', async () => {
    const { sb, node } = await runningNode();
    // A stand-in for xdg-open that records the arguments it was given.
    const bin = join(sb.dir, 'bin');
    const seen = join(sb.dir, 'opener-args');
    await mkdir(bin);
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${seen}'\n`);
    await chmod(join(bin, 'xdg-open'), 0o755);
    const r = await sb.run(['ui', '--json'], { env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as { url: string };
    const code = new URL(printed.url).searchParams.get('code')!;
    expect(code.length).toBeGreaterThanOrEqual(20);
    for (let i = 0; i < 50; i++) {
      if (await stat(seen).then(() => true, () => false)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const args = (await readFile(seen, 'utf8')).trim();
    expect(args).not.toContain(code);
    expect(args).toMatch(/^file:\/\/.*\/chorus-ui-[^/]+\/login\.html$/);
    const file = fileURLToPath(args);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(file, '..'))).mode & 0o777).toBe(0o700);
    const html = await readFile(file, 'utf8');
    expect(html).toContain(`action="${node.url}/login"`);
    expect(html).toContain(`value="${code}"`);
    cleanup.push(() => rm(join(file, '..'), { recursive: true, force: true }));
    // The page's POST logs in (303 to the app, a session cookie); a GET of the printed URL only asks.
    const get = await fetch(printed.url);
    expect(get.status).toBe(200);
    expect(get.headers.get('set-cookie')).toBeNull();
    const post = await fetch(`${node.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${code}`, redirect: 'manual' });
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toMatch(/^\/#csrf=/);
    expect(post.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
  });

  test('on a machine with no display: the SSH tunnel command and a pairing code to type on the laptop; wrong codes are bounded', async () => {
    const { sb, node } = await runningNode();
    const port = new URL(node.url).port;
    // Plain `chorus ui` over SSH (no display): instructions, not a silent xdg-open.
    const r = await sb.run(['ui'], { env: { SSH_CONNECTION: '192.0.2.1 50000 192.0.2.2 22', DISPLAY: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`ssh -N -L ${port}:127.0.0.1:${port} `);
    expect(r.stdout).toContain(`http://localhost:${port}/login`);
    const code = /pairing code:\s+([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(r.stdout)?.[1];
    expect(code, r.stdout).toBeDefined();
    const j = JSON.parse((await sb.expectCode(0, ['ui', '--remote', '--json'])).stdout) as { code: string; ssh: string; url: string; expiresAt: string };
    expect(j.ssh).toMatch(new RegExp(`^ssh -N -L ${port}:127\\.0\\.0\\.1:${port} \\S+@\\S+$`));
    expect(Date.parse(j.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000);
    // The login page asks for the code; typed in lower case without the dash, it logs in once.
    const form = await fetch(`${node.url}/login`);
    expect(await form.text()).toContain('name="code"');
    const post = (c: string) => fetch(`${node.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${encodeURIComponent(c)}`, redirect: 'manual' });
    const ok = await post(code!.replace('-', '').toLowerCase());
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await post(code!)).status).toBe(403);
    // Guessing: past 10 failed logins a minute, every attempt waits — even with the right code.
    for (let i = 0; i < 12; i++) await post(`WRONG-GUES${String.fromCharCode(65 + i)}`);
    const late = await post(j.code);
    expect(late.status).toBe(429);
    expect(Number(late.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
