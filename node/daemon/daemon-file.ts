import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sharedModes, type HomePaths } from '../home/home.js';
import { writeFileAtomic } from '../home/files.js';

/** daemon.json: how other chorus commands find the running node. */
export const DaemonInfo = z.object({
  pid: z.int(),
  url: z.string(),
  startedAt: z.string(),
  version: z.string(),
});
export type DaemonInfo = z.infer<typeof DaemonInfo>;

export const daemonFile = (home: HomePaths): string => join(home.root, 'daemon.json');

export async function writeDaemonInfo(home: HomePaths, info: DaemonInfo): Promise<void> {
  await writeFileAtomic(daemonFile(home), JSON.stringify(info, null, 2) + '\n', sharedModes(home).file);
}

export async function removeDaemonInfo(home: HomePaths, pid = process.pid): Promise<void> {
  const info = await readDaemonInfo(home, { checkAlive: false });
  if (info?.pid === pid) await rm(daemonFile(home), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running daemon of this data dir, or undefined (no file, damaged, or its process is gone). */
export async function readDaemonInfo(home: HomePaths, opts: { checkAlive?: boolean } = {}): Promise<DaemonInfo | undefined> {
  try {
    const info = DaemonInfo.parse(JSON.parse(await readFile(daemonFile(home), 'utf8')));
    if ((opts.checkAlive ?? true) && !alive(info.pid)) return undefined;
    return info;
  } catch {
    return undefined;
  }
}
