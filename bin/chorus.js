#!/usr/bin/env node
// The installed `chorus` command. Plain JavaScript that any Node.js since 14 parses: it runs
// the program in this process when this Node is new enough, and otherwise in the Node 22
// runtime the package carries (its optional dependency `node`), or the one CHORUS_NODE
// names. So `npm install -g chorus-<version>.tgz` works on Debian's Node 18.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;
const main = fileURLToPath(new URL('../dist/node/cli/main.js', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

function carriedNode() {
  if (process.env.CHORUS_NODE) return process.env.CHORUS_NODE;
  try {
    const pkg = createRequire(import.meta.url).resolve('node/package.json');
    const bin = join(dirname(pkg), 'bin', 'node');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

if (major >= MIN_MAJOR && !process.env.CHORUS_NODE) {
  await import(main);
} else {
  const node = carriedNode();
  if (node === undefined) {
    process.stderr.write(
      `chorus: needs Node.js ${MIN_MAJOR} or newer (this is ${process.versions.node}), and the Node ${MIN_MAJOR} runtime this package ` +
      `carries is not installed (was it installed with --omit=optional?). Reinstall without --omit=optional, ` +
      `or set CHORUS_NODE to a Node ${MIN_MAJOR} binary.\n`,
    );
    process.exit(1);
  }
  const child = spawn(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // SIGTERM and SIGHUP to this process (systemd's stop, `kill $!`) are handed to the program,
  // which shuts down cleanly; this process then leaves with the program's own status.
  // SIGINT and SIGQUIT come from the terminal, which sends them to the whole foreground
  // process group, the program included: handing them on as well would be a second Ctrl-C,
  // which the program takes as "stop without waiting". So they are only kept from killing
  // this process before the program is done.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of ['SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  for (const s of ['SIGINT', 'SIGQUIT']) process.on(s, () => undefined);
  child.on('error', (e) => {
    process.stderr.write(`chorus: cannot run ${node}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of signals) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
