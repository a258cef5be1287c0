import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes the files under `dir` take (a LevelDB's size on disk). */
export async function du(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += await du(p);
    else n += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return n;
}
