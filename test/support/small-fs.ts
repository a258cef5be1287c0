import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A file system that fills up for real: ext4 on a loop device (a real block file system), or tmpfs. */
export type SmallFsKind = 'ext4' | 'tmpfs';

/** Why a small file system of this kind cannot be mounted here, or undefined when it can. */
export function smallFsUnavailable(kind: SmallFsKind): string | undefined {
  if (process.platform !== 'linux') return 'mounting a small file system needs Linux';
  if (process.getuid?.() !== 0) return 'mounting a small file system needs root';
  if (kind === 'ext4' && spawnSync('mkfs.ext4', ['-V']).error !== undefined) return 'mkfs.ext4 (e2fsprogs) is not installed';
  return undefined;
}

/** A mounted small file system, unmounted (lazily if busy) and removed on dispose. */
export interface SmallFs {
  readonly path: string;
  /** Bytes still free on it. */
  free(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Mounts a `mib` MiB file system of `kind` on a fresh dir under `parent` (root only: see smallFsUnavailable). */
export async function mountSmallFs(kind: SmallFsKind, mib: number, parent = tmpdir()): Promise<SmallFs> {
  const base = await mkdtemp(join(parent, `chorus-${kind}-`));
  const path = join(base, 'mnt');
  const image = join(base, 'fs.img');
  execFileSync('mkdir', [path]);
  try {
    if (kind === 'tmpfs') execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', path]);
    else {
      execFileSync('truncate', ['-s', `${mib}M`, image]);
      // No reserved blocks: root (these tests) would otherwise write past "full".
      execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
      execFileSync('mount', ['-o', 'loop', image, path]);
    }
  } catch (e) {
    await rm(base, { recursive: true, force: true });
    throw e;
  }
  return {
    path,
    async free() {
      const s = await statfs(path);
      return s.bavail * s.bsize;
    },
    async [Symbol.asyncDispose]() {
      try {
        execFileSync('umount', [path]);
      } catch {
        execFileSync('umount', ['-l', path]);
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}
