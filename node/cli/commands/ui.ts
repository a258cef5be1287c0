import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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

export function uiCommand(cli: Cli): Command {
  return new Command('ui')
    .description('open the web view of the running node, logged in: the URL carries a one-time login code (60 s) that becomes a browser session')
    .option('--no-open', 'print the URL only; do not start a browser')
    .option('--json', 'print {url, expiresAt} as JSON')
    .action(action(async (o: { open: boolean; json?: boolean }) => {
      const home = cli.home();
      const running = await readDaemonInfo(home);
      if (!running) throw new ChorusError('unavailable', `no node is running on ${home.root}: start it with chorus start, then run chorus ui`);
      let token: string;
      try {
        token = (await readFile(home.token, 'utf8')).trim();
      } catch {
        throw new ChorusError('not_initialized', `no API token at ${home.token}; run: chorus init`);
      }
      let res: Response;
      try {
        res = await fetch(`${running.url}/ui/login-code`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      } catch (e) {
        throw new ChorusError('unavailable', `the node at ${running.url} does not answer: ${(e as Error).message}`);
      }
      const body = await res.json().catch(() => ({})) as { code?: string; message?: string; expiresAt?: string };
      if (!res.ok || body.code === undefined) throw new ChorusError('io_error', `the node refused a login code (${res.status}): ${body.message ?? ''}`);
      // The URL of the address the node runs on (daemon.json), with the code.
      const url = `${running.url}/login?code=${encodeURIComponent(body.code)}`;
      if (o.json) cli.json({ url, expiresAt: body.expiresAt });
      else cli.out(`${url}\n(a one-time login link, valid until ${body.expiresAt ?? '60 s from now'})`);
      if (o.open && !(await openBrowser(url))) cli.err('chorus: could not start a browser; open the URL above yourself');
      return EXIT.ok;
    }));
}
