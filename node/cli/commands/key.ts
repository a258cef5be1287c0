import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import type { HomePaths } from '../../home/home.js';
import { writeFileAtomic } from '../../home/files.js';
import {
  decryptKeyBackup, encryptKeyBackup, installNodeKeys, MAX_KEY_BACKUP_BYTES, parseKeyBackup, planInstall, readNodeKeys, type NodeKeys,
} from '../../home/key-backup.js';
import { readDaemonInfo } from '../../daemon/daemon-file.js';
import { action, type Cli } from '../context.js';

const PASSPHRASE_ENV = 'CHORUS_KEY_PASSPHRASE';
const MIN_PASSPHRASE_CHARS = 8;
const DEFAULT_OUT = 'chorus-key-backup.json';

interface PassphraseOpts {
  passphraseFile?: string;
}

const passphraseHelp = `
Passphrase: --passphrase-file FILE (its first line), else $${PASSPHRASE_ENV}, else asked on
the terminal (typing is not shown). Without a terminal one of the first two is required.`;

export function keyCommand(cli: Cli): Command {
  const key = new Command('key').description("back up and move this node's keys (issuer identity and peer key), encrypted with a passphrase");

  key.command('export')
    .description('write an encrypted backup of the identity and peer key (scrypt + AES-256-GCM), mode 0600')
    .option('-o, --out <file>', `where to write it; - for standard output (default ${DEFAULT_OUT})`)
    .option('--force', 'overwrite an existing file')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', passphraseHelp + `\nThe file names the did and peer id it holds; the keys themselves need the passphrase.\nKeep the passphrase apart from the file: either alone restores nothing.`)
    .action(action(async (opts: PassphraseOpts & { out?: string; force?: boolean; json?: boolean }) => {
      const out = opts.out ?? DEFAULT_OUT;
      if (out === '-' && opts.json) throw new ChorusError('bad_input', '--json and --out - both want standard output; give --out FILE');
      if (out !== '-' && !opts.force && existsSync(out)) throw new ChorusError('bad_input', `${out} exists; nothing was written (choose another --out or pass --force)`);
      const keys = await readNodeKeys(cli.home());
      const passphrase = await askPassphrase(opts, { confirm: true, minChars: MIN_PASSPHRASE_CHARS, canPrompt: true });
      const text = await encryptKeyBackup(keys, passphrase);
      if (out === '-') process.stdout.write(text);
      else await writeNew(out, text, opts.force ?? false);
      const where = out === '-' ? 'standard output' : out;
      if (opts.json) cli.json({ did: keys.identity.did, peerId: keys.peerKey?.peerId ?? null, file: out });
      else cli.err(`exported ${describe(keys)} to ${where}; keep the passphrase apart from it`);
    }));

  key.command('import')
    .description("restore a backup into this data dir (a new or stopped node): identity and peer key, mode 0600")
    .argument('<file>', 'the backup written by chorus key export; - for standard input')
    .option('--force', 'replace a different identity or peer key already here (the old file is kept as .bak)')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', passphraseHelp + `\nThe data dir may be new: import creates what chorus init would (API token, config, trust list).`)
    .action(action(async (file: string, opts: PassphraseOpts & { force?: boolean; json?: boolean }) => {
      const home = cli.home();
      const source = file === '-' ? 'standard input' : file;
      // Header first: a file that is not a backup, or too costly to try, fails before any prompt.
      const backup = parseKeyBackup(file === '-' ? await readStdin() : await readBounded(file, MAX_KEY_BACKUP_BYTES, 'too_large'), source);
      await refuseIfRunning(home);
      await planInstall(home, backup, opts.force ?? false);
      const passphrase = await askPassphrase(opts, { confirm: false, minChars: 1, canPrompt: file !== '-' });
      const keys = await decryptKeyBackup(backup, passphrase, source);
      const result = await withStoreLock(home, () => installNodeKeys(home, keys, { force: opts.force ?? false }));
      if (opts.json) {
        cli.json({ did: keys.identity.did, peerId: keys.peerKey?.peerId ?? null, file, home: home.root, identity: result.identity, peerKey: result.peerKey, kept: result.kept });
        return;
      }
      const nothingNew = result.identity === 'unchanged' && result.peerKey !== 'written' && result.peerKey !== 'replaced';
      const kept = result.kept.length ? `; the replaced keys are kept as ${result.kept.join(', ')}` : '';
      cli.out(nothingNew
        ? `${describe(keys)} already in place in ${home.root}; nothing changed`
        : `imported ${describe(keys)} from ${source} into ${home.root}${kept}`);
    }));

  return key;
}

function describe(keys: NodeKeys): string {
  return keys.peerKey ? `${keys.identity.did} (peer id ${keys.peerKey.peerId})` : `${keys.identity.did} (no peer key)`;
}

/** Writes a new file, 0600; an existing one only with `force` (then atomically). */
async function writeNew(path: string, text: string, force: boolean): Promise<void> {
  if (force) return writeFileAtomic(path, text, 0o600);
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ChorusError('bad_input', `${path} exists; nothing was written (choose another --out or pass --force)`);
    throw new ChorusError('io_error', `cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readBounded(path: string, limit: number, code: 'too_large' | 'bad_input'): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (st.isFile() && st.size > limit) throw new ChorusError(code, `${path} is ${st.size} bytes; at most ${limit} are read`);
    const fh = await open(path, 'r');
    try {
      // Read one byte past the limit so that a file that grew (or a pipe) is still caught.
      const buf = Buffer.alloc(limit + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > limit) throw new ChorusError(code, `${path} is over ${limit} bytes; at most ${limit} are read`);
      }
      return buf.subarray(0, n);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ChorusError) throw e;
    const errno = (e as NodeJS.ErrnoException).code;
    throw new ChorusError(errno === 'ENOENT' ? 'not_found' : 'io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > MAX_KEY_BACKUP_BYTES) throw new ChorusError('too_large', `standard input is over ${MAX_KEY_BACKUP_BYTES} bytes; a Chorus key backup is smaller`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function askPassphrase(opts: PassphraseOpts, how: { confirm: boolean; minChars: number; canPrompt: boolean }): Promise<string> {
  let passphrase: string;
  let from: string;
  if (opts.passphraseFile !== undefined) {
    const text = (await readBounded(opts.passphraseFile, 64 * 1024, 'bad_input')).toString('utf8');
    passphrase = text.split(/\r?\n/, 1)[0] ?? '';
    from = `the first line of ${opts.passphraseFile}`;
  } else if (process.env[PASSPHRASE_ENV] !== undefined) {
    passphrase = process.env[PASSPHRASE_ENV];
    from = `$${PASSPHRASE_ENV}`;
  } else if (how.canPrompt && process.stdin.isTTY) {
    passphrase = await promptHidden('passphrase: ');
    from = 'the passphrase typed';
    if (how.confirm && passphrase.length > 0 && (await promptHidden('again: ')) !== passphrase) {
      throw new ChorusError('bad_input', 'the two passphrases differ; nothing was written');
    }
  } else {
    throw new ChorusError('bad_input', `no passphrase: give --passphrase-file FILE or set ${PASSPHRASE_ENV} (standard input is not a terminal to ask on)`);
  }
  if (passphrase.length === 0) throw new ChorusError('bad_input', `${from} is empty; a passphrase is required`);
  if ([...passphrase].length < how.minChars) throw new ChorusError('bad_input', `${from} is shorter than ${how.minChars} characters; choose a longer passphrase`);
  return passphrase;
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve) => {
    let value = '';
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          // Raw mode turns Ctrl-C into a character: end as the signal would have.
          finish();
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function refuseIfRunning(home: HomePaths): Promise<void> {
  const running = await readDaemonInfo(home);
  if (running) {
    throw new ChorusError('store_locked', `a chorus node is running on ${home.root} (pid ${running.pid}); stop it first (SIGTERM or Ctrl-C), then import: it would go on running with the old keys`);
  }
}

/**
 * Holds the store's lock (LevelDB's, as a running node does) while the keys change, so
 * no chorus process works from this data dir meanwhile and no node starts half-way.
 */
async function withStoreLock<T>(home: HomePaths, fn: () => Promise<T>): Promise<T> {
  let db: { open(): Promise<void>; close(): Promise<void> } | undefined;
  if (existsSync(home.store)) {
    // Loaded here: LevelDB's native module is not needed by the other key commands.
    const { Level } = await import('level');
    const candidate = new Level(home.store, { createIfMissing: false });
    try {
      await candidate.open();
      db = candidate;
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      if (/lock/i.test(cause)) {
        throw new ChorusError('store_locked', `the store at ${home.store} is in use by another chorus process; stop it first, then import`);
      }
      // No store yet (an empty dir), or one this process cannot open: nothing to hold.
    }
  }
  try {
    return await fn();
  } finally {
    await db?.close();
  }
}
