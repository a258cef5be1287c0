import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { readDaemonInfo } from '../../daemon/daemon-file.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

/** Opens `url` in the desktop's browser; false when there is no opener to run. */
function openBrowser(url: string): Promise<boolean> {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/**
 * A page that posts the login code to the node, in a directory of this user's alone (0700,
 * the file 0600): the browser is started with the file's name, so the code never appears
 * on a command line, where every user of the machine could read it (/proc/PID/cmdline).
 * Pages of earlier runs (their codes long expired) are removed.
 */
async function loginPage(nodeUrl: string, code: string): Promise<string> {
  const base = tmpdir();
  for (const name of await readdir(base).catch(() => [] as string[])) {
    if (!name.startsWith('chorus-ui-')) continue;
    const dir = join(base, name);
    const st = await stat(dir).catch(() => undefined);
    if (st && st.uid === process.getuid?.() && Date.now() - st.mtimeMs > 10 * 60_000) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  const dir = await mkdtemp(join(base, 'chorus-ui-'));
  const file = join(dir, 'login.html');
  const attr = (v: string) => v.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  await writeFile(file, `<!doctype html><meta charset="utf-8"><title>Chorus: logging in</title>
<form method="post" action="${attr(nodeUrl)}/login"><input type="hidden" name="code" value="${attr(code)}"><button type="submit">Log in to the Chorus node</button></form>
<script>document.forms[0].submit()</script>
`, { mode: 0o600 });
  return pathToFileURL(file).href;
}

/** Whether this session has no display to open a browser on (a server reached over SSH, say). */
export function headless(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['SSH_CONNECTION'] || env['SSH_TTY']) return true;
  return process.platform === 'linux' && !env['DISPLAY'] && !env['WAYLAND_DISPLAY'];
}

/** The instructions for using the node from another machine through an SSH tunnel. */
function tunnelText(nodeUrl: string, code: string, expiresAt: string | undefined): string {
  const port = new URL(nodeUrl).port || '80';
  const host = `${userInfo().username}@${hostname()}`;
  return [
    'This machine has no display (or you are on it over SSH). To use the web view from your laptop:',
    '',
    '  1. On the laptop, forward a local port to the node through SSH (the node stays on loopback):',
    `       ssh -N -L ${port}:127.0.0.1:${port} ${host}`,
    `  2. On the laptop, open  http://localhost:${port}/login`,
    `  3. Enter the pairing code:  ${code}`,
    '',
    `The code works once, until ${expiresAt ?? '10 minutes from now'}. Failed logins are limited node-wide.`,
  ].join('\n');
}

export function uiCommand(cli: Cli): Command {
  return new Command('ui')
    .description('open the web view of the running node, logged in: a one-time login code (60 s, never on a command line) becomes a browser session; the printed URL asks for a click. On a machine without a display (or with --remote): the ssh command to run on your laptop and a pairing code to type there (10 minutes, once)')
    .option('--no-open', 'print the URL only; do not start a browser')
    .option('--remote', 'for use from another machine: print the SSH tunnel command and a pairing code (the default when there is no display)')
    .option('--lan', 'for a browser on the LAN (the node started with --lan): its HTTPS address, the certificate fingerprint to check, and a pairing code')
    .option('--json', 'print {url, expiresAt} as JSON (with --remote: {code, ssh, url, expiresAt})')
    .action(action(async (o: { open: boolean; json?: boolean; remote?: boolean; lan?: boolean }) => {
      const home = cli.home();
      const running = await readDaemonInfo(home);
      if (!running) throw new ChorusError('unavailable', `no node is running on ${home.root}: start it with chorus start, then run chorus ui`);
      let token: string;
      try {
        token = (await readFile(home.token, 'utf8')).trim();
      } catch {
        throw new ChorusError('not_initialized', `no API token at ${home.token}; run: chorus init`);
      }
      // No display and nothing asked explicitly (--no-open, --json): the remote instructions, not a silent xdg-open.
      let lan: { url: string; fingerprint: string } | undefined;
      if (o.lan) {
        const st = await fetch(`${running.url}/v1/status`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ api?: { lan?: { url: string; fingerprint: string } } }>).catch(() => undefined);
        lan = st?.api?.lan;
        if (lan === undefined) throw new ChorusError('unavailable', 'the running node does not serve the LAN: start it with chorus start --lan (config api.lan)');
      }
      const remote = o.remote === true || lan !== undefined || (o.open && o.json !== true && headless());
      let res: Response;
      try {
        res = await fetch(`${running.url}/ui/login-code`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(remote ? { pairing: true } : {}) });
      } catch (e) {
        throw new ChorusError('unavailable', `the node at ${running.url} does not answer: ${(e as Error).message}`);
      }
      const body = await res.json().catch(() => ({})) as { code?: string; message?: string; expiresAt?: string };
      if (!res.ok || body.code === undefined) throw new ChorusError('io_error', `the node refused a login code (${res.status}): ${body.message ?? ''}`);
      if (lan !== undefined) {
        if (o.json) cli.json({ code: body.code, url: `${lan.url}/login`, fingerprint: lan.fingerprint, expiresAt: body.expiresAt });
        else cli.out([`On a device on your LAN, open  ${lan.url}/login`, `The browser will warn about the certificate (the node made it): check that its SHA-256 fingerprint is`, `  ${lan.fingerprint}`, `then enter the pairing code:  ${body.code}`, `(it works once, until ${body.expiresAt ?? '10 minutes from now'})`].join('\n'));
        return EXIT.ok;
      }
      if (remote) {
        const port = new URL(running.url).port || '80';
        if (o.json) cli.json({ code: body.code, ssh: `ssh -N -L ${port}:127.0.0.1:${port} ${userInfo().username}@${hostname()}`, url: `http://localhost:${port}/login`, expiresAt: body.expiresAt });
        else cli.out(tunnelText(running.url, body.code, body.expiresAt));
        return EXIT.ok;
      }
      // The URL of the address the node runs on (daemon.json), with the code.
      const url = `${running.url}/login?code=${encodeURIComponent(body.code)}`;
      if (o.json) cli.json({ url, expiresAt: body.expiresAt });
      else cli.out(`${url}\n(a one-time login link, valid until ${body.expiresAt ?? '60 s from now'})`);
      if (o.open && !(await openBrowser(await loginPage(running.url, body.code)))) cli.err('chorus: could not start a browser; open the URL above yourself');
      return EXIT.ok;
    }));
}
