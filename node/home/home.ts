import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, open, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ChorusError } from '../../src/errors.js';
import { DEFAULT_CONFIG } from './config.js';
import { createIdentity, type Identity } from './identity.js';
import { writeFileAtomic } from './files.js';
import { writePolicy } from './trust-list.js';
import { emptyPolicy } from '../../src/reputation/policy.js';

/** Where everything of one node lives. */
export interface HomePaths {
  readonly root: string;
  readonly key: string;
  readonly config: string;
  readonly trust: string;
  readonly token: string;
  readonly store: string;
  /** libp2p's datastore (LevelDB): known peers, DHT records. */
  readonly p2p: string;
  /** The libp2p peer key (its peer id), made the first time the node joins the network. */
  readonly peerKey: string;
  /**
   * $CHORUS_GROUP_ACCESS=1: the data dir's group may enter it and read the API token and
   * daemon.json, so an admin in that group can use the CLI against the running node (the
   * systemd unit sets it). The key and the stores stay the owner's alone.
   */
  readonly groupAccess: boolean;
}

/** The data dir: $CHORUS_HOME, else ~/.chorus. */
export function resolveHome(env: NodeJS.ProcessEnv = process.env, override?: string): HomePaths {
  const root = resolve(override ?? env['CHORUS_HOME'] ?? join(homedir(), '.chorus'));
  return {
    root,
    key: join(root, 'identity.key'),
    config: join(root, 'config.json'),
    trust: join(root, 'trust.json'),
    token: join(root, 'api-token'),
    store: join(root, 'store'),
    p2p: join(root, 'p2p'),
    peerKey: join(root, 'peer.key'),
    groupAccess: /^(1|true|yes)$/i.test(env['CHORUS_GROUP_ACCESS'] ?? ''),
  };
}

/** The mode of the data dir and of the files its group may read (see HomePaths.groupAccess). */
export function sharedModes(home: HomePaths): { dir: number; file: number } {
  return home.groupAccess ? { dir: 0o750, file: 0o640 } : { dir: 0o700, file: 0o600 };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the data dir: identity key (0600), API token (0600), default config and an
 * empty trust policy. Refuses to overwrite an existing identity.
 */
export async function initHome(home: HomePaths): Promise<Identity> {
  if (await exists(home.key)) {
    throw new ChorusError('already_initialized', `${home.root} already holds an identity; nothing was changed`);
  }
  await mkdir(home.root, { recursive: true, mode: 0o700 });
  await chmod(home.root, 0o700);
  const identity = await createIdentity(home.key);
  await completeHome(home);
  return identity;
}

/**
 * What a data dir needs beside its keys, made where missing: the API token, the default
 * config and an empty trust policy (init, and a key import into a new data dir).
 */
export async function completeHome(home: HomePaths): Promise<void> {
  if (!(await exists(home.token))) {
    const fh = await open(home.token, 'wx', sharedModes(home).file);
    try {
      await fh.writeFile(randomBytes(32).toString('hex') + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  if (!(await exists(home.config))) await writeFileAtomic(home.config, JSON.stringify(DEFAULT_CONFIG, null, 2) + '\n');
  if (!(await exists(home.trust))) await writePolicy(home.trust, emptyPolicy());
  await secureDirs(home);
}

/**
 * Creates the data dir and its LevelDB dirs owner-only (0700) whatever the umask, and
 * makes existing ones so: LevelDB creates its files with the process umask, and a
 * directory others cannot enter keeps them private even under `umask 000`. With group
 * access, the data dir is 0750 and the API token 0640; the stores stay 0700.
 */
export async function secureDirs(home: HomePaths): Promise<void> {
  if (!(await exists(home.root))) return; // not initialised: nothing to secure, nothing to create
  // A data dir shared with its group (the dir group-enterable and the token group-readable,
  // as a node with CHORUS_GROUP_ACCESS left them) stays shared when a command runs without
  // the variable: an admin's `chorus list` must not lock the admins out. Others never get in.
  const dirShared = ((await stat(home.root)).mode & 0o050) === 0o050;
  const tokenShared = (((await stat(home.token).catch(() => undefined))?.mode ?? 0) & 0o040) !== 0;
  const shared = home.groupAccess || (dirShared && tokenShared);
  const modes = sharedModes({ ...home, groupAccess: shared });
  await chmod(home.root, modes.dir);
  if (await exists(home.token)) await chmod(home.token, modes.file);
  for (const dir of [home.store, home.p2p]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
}
