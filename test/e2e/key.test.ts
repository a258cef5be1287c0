import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInitialisedSandbox, makeSandbox, spawnCli, type Sandbox } from './run-cli.js';

const sandboxes: Sandbox[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sandboxes.splice(0)) await s.cleanup();
});

async function track<S extends Sandbox>(sb: Promise<S>): Promise<S> {
  const s = await sb;
  sandboxes.push(s);
  return s;
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/** A node that has joined the network once: an identity and a peer key. */
async function nodeWithPeerKey(): Promise<Sandbox & { did: string; peerId: string }> {
  const sb = await track(makeInitialisedSandbox('chorus-key-'));
  const key = await generateKeyPair('Ed25519');
  await writeFile(join(sb.home, 'peer.key'), privateKeyToProtobuf(key), { mode: 0o600 });
  return { ...sb, peerId: peerIdFromPrivateKey(key).toString() };
}

/** A passphrase file in the sandbox, as an operator would keep one. */
async function passphraseFile(sb: Sandbox, passphrase = 'correct horse battery staple'): Promise<string> {
  const path = join(sb.dir, 'passphrase');
  await writeFile(path, passphrase + '\n', { mode: 0o600 });
  return path;
}

/** Every file in a data dir with its bytes: to show an import left it as it was. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if ((await stat(path)).isFile()) out[name] = (await readFile(path)).toString('base64');
  }
  return out;
}

describe('chorus key export / import (the built CLI)', () => {
  it('moves a node: the new data dir has the same did and peer id, and a node started there runs as them', async () => {
    const from = await nodeWithPeerKey();
    const pass = await passphraseFile(from);
    const backup = join(from.dir, 'node-keys.json');

    const exported = await from.expectCode(0, ['key', 'export', '--out', backup, '--passphrase-file', pass]);
    expect(exported.stderr).toContain(from.did);
    expect(exported.stderr).toContain(from.peerId);
    expect(await modeOf(backup)).toBe(0o600);
    const text = await readFile(backup, 'utf8');
    const file = JSON.parse(text) as { format: string; did: string; peerId: string };
    expect(file).toMatchObject({ format: 'chorus-key-backup', did: from.did, peerId: from.peerId });
    const secret = (JSON.parse(await readFile(join(from.home, 'identity.key'), 'utf8')) as { secretKey: string }).secretKey;
    expect(text + exported.stdout + exported.stderr).not.toContain(secret);
    expect(text + exported.stdout + exported.stderr).not.toContain('correct horse');

    // A second export to the same file is refused: a backup is never overwritten by accident.
    const again = await from.run(['key', 'export', '--out', backup, '--passphrase-file', pass]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; nothing was written .*--force/);
    expect(await readFile(backup, 'utf8')).toBe(text);

    // The new machine: an empty data dir, chorus init never run.
    const to = await track(makeSandbox('chorus-key-'));
    const imported = await to.expectCode(0, ['key', 'import', backup, '--passphrase-file', pass]);
    expect(imported.stdout).toMatch(new RegExp(`imported ${from.did} \\(peer id ${from.peerId}\\)`));
    expect((await to.expectCode(0, ['id'])).stdout.trim()).toBe(from.did);
    expect(await modeOf(join(to.home, 'identity.key'))).toBe(0o600);
    expect(await modeOf(join(to.home, 'peer.key'))).toBe(0o600);
    expect(await modeOf(join(to.home, 'api-token'))).toBe(0o600);
    const twice = await to.expectCode(0, ['key', 'import', backup, '--passphrase-file', pass]);
    expect(twice.stdout).toMatch(/already in place/);

    const node = spawnCli(['start', '--port', '0'], { home: to.home });
    children.push(node);
    let log = '';
    node.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    node.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(to.home, 'daemon.json'))) {
      if (node.exitCode !== null || Date.now() > deadline) throw new Error(`node did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = JSON.parse((await to.expectCode(0, ['status', '--json'])).stdout) as { running: boolean; did: string; network: { peerId: string } | null };
    expect(status).toMatchObject({ running: true, did: from.did, network: { peerId: from.peerId } });
    expect(log).not.toMatch(/initialised a new node/);

    // While it runs, its keys are not replaced under it.
    const busy = await to.run(['key', 'import', backup, '--passphrase-file', pass, '--force']);
    expect(busy.code).toBe(7);
    expect(busy.stderr).toMatch(/node is running on .*stop it first/);
    node.kill('SIGTERM');
    await once(node, 'exit');
  });

  it('a wrong passphrase exits non-zero and leaves the target data dir as it was', async () => {
    const from = await nodeWithPeerKey();
    const backup = join(from.dir, 'keys.json');
    await from.expectCode(0, ['key', 'export', '--out', backup], { env: { CHORUS_KEY_PASSPHRASE: 'the right passphrase' } });

    const fresh = await track(makeSandbox('chorus-key-'));
    const r = await fresh.run(['key', 'import', backup], { env: { CHORUS_KEY_PASSPHRASE: 'the wrong passphrase' } });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/wrong passphrase, or the file was changed/);
    expect(existsSync(fresh.home)).toBe(false);

    const other = await track(makeInitialisedSandbox('chorus-key-'));
    const before = await snapshot(other.home);
    const forced = await other.run(['key', 'import', backup, '--force'], { env: { CHORUS_KEY_PASSPHRASE: 'the wrong passphrase' } });
    expect(forced.code).toBe(5);
    expect(await snapshot(other.home)).toEqual(before);
    expect((await other.expectCode(0, ['id'])).stdout.trim()).toBe(other.did);
  });

  it('import over a different identity is refused without --force; with it the old key is kept as a 0600 .bak', async () => {
    const from = await nodeWithPeerKey();
    const pass = await passphraseFile(from);
    const backup = join(from.dir, 'keys.json');
    await from.expectCode(0, ['key', 'export', '--out', backup, '--passphrase-file', pass]);

    const other = await track(makeInitialisedSandbox('chorus-key-'));
    const oldKey = await readFile(join(other.home, 'identity.key'), 'utf8');
    const before = await snapshot(other.home);
    const refused = await other.run(['key', 'import', backup, '--passphrase-file', pass]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(other.did);
    expect(refused.stderr).toContain(from.did);
    expect(refused.stderr).toMatch(/Nothing was changed; pass --force/);
    expect(await snapshot(other.home)).toEqual(before);

    const forced = await other.expectCode(0, ['key', 'import', backup, '--passphrase-file', pass, '--force']);
    expect(forced.stdout).toMatch(/kept as .*identity\.key\..*\.bak/);
    expect((await other.expectCode(0, ['id'])).stdout.trim()).toBe(from.did);
    const bak = (await readdir(other.home)).filter((n) => /^identity\.key\..*\.bak$/.test(n));
    expect(bak).toHaveLength(1);
    expect(await readFile(join(other.home, bak[0] as string), 'utf8')).toBe(oldKey);
    expect(await modeOf(join(other.home, bak[0] as string))).toBe(0o600);
  });

  it('without a terminal and without a passphrase both commands stop at once with exit 2; a short passphrase is refused', async () => {
    const from = await nodeWithPeerKey();
    const backup = join(from.dir, 'keys.json');
    const started = Date.now();
    const exp = await from.run(['key', 'export', '--out', backup], { timeoutMs: 10_000 });
    expect(exp.code).toBe(2);
    expect(exp.stderr).toMatch(/no passphrase: give --passphrase-file FILE or set CHORUS_KEY_PASSPHRASE/);
    expect(existsSync(backup)).toBe(false);

    const short = await from.run(['key', 'export', '--out', backup], { env: { CHORUS_KEY_PASSPHRASE: 'short' } });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/shorter than 8 characters/);
    expect(existsSync(backup)).toBe(false);

    await from.expectCode(0, ['key', 'export', '--out', backup], { env: { CHORUS_KEY_PASSPHRASE: 'long enough' } });
    const to = await track(makeSandbox('chorus-key-'));
    const imp = await to.run(['key', 'import', backup], { timeoutMs: 10_000 });
    expect(imp.code).toBe(2);
    expect(imp.stderr).toMatch(/no passphrase/);
    expect(existsSync(to.home)).toBe(false);
    // "At once": a command waiting for a passphrase would be killed at its timeoutMs (code null, not 2).
    console.log(`[key] the four refusals took ${Date.now() - started} ms`);
  });

  it('--out - writes the backup to standard output and the summary to standard error', async () => {
    const from = await nodeWithPeerKey();
    const r = await from.expectCode(0, ['key', 'export', '--out', '-'], { env: { CHORUS_KEY_PASSPHRASE: 'long enough' } });
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'chorus-key-backup', did: from.did });
    expect(r.stderr).toMatch(/to standard output/);
    const backup = join(from.dir, 'piped.json');
    await writeFile(backup, r.stdout);
    const to = await track(makeSandbox('chorus-key-'));
    const imported = JSON.parse((await to.expectCode(0, ['key', 'import', backup, '--json'], { env: { CHORUS_KEY_PASSPHRASE: 'long enough' } })).stdout) as Record<string, unknown>;
    expect(imported).toMatchObject({ did: from.did, peerId: from.peerId, identity: 'written', peerKey: 'written' });
  });
});
