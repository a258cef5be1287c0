import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, relative, sep, basename } from 'node:path';
import { ChorusError } from '../../src/errors.js';
import { isIgnoredPath, rootDigest, type FileDigest } from '../../src/digest/model-digest.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';

/** Reports bytes hashed so far out of the total. */
export type Progress = (done: number, total: number) => void;

export interface PathDigest {
  /** The model digest: a file's sha256, or a directory's root digest. */
  readonly digest: string;
  readonly kind: 'file' | 'directory';
  readonly name: string;
  readonly bytes: number;
  /** Per-file digests, for a directory, in digest order. */
  readonly files?: readonly FileDigest[];
}

const CHUNK = 4 * 1024 * 1024;

/** sha256 of one file, streamed in constant memory. */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest('hex');
}

async function listFiles(root: string, allowSymlinks: boolean): Promise<{ rel: string; abs: string; size: number }[]> {
  const out: { rel: string; abs: string; size: number }[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const abs = join(dir, e.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (isIgnoredPath(rel)) continue;
      if (e.isSymbolicLink()) {
        if (!allowSymlinks) throw new ChorusError('bad_input', `${rel} is a symbolic link; pass --allow-symlinks to hash what it points to`);
        const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
          throw new ChorusError('bad_input', `${rel} is a symbolic link that cannot be followed (${e.code ?? e.message})`);
        });
        if (st.isFile()) out.push({ rel, abs, size: st.size });
        continue; // links to directories are not walked, as in OpenSSF model signing
      }
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) out.push({ rel, abs, size: (await stat(abs)).size });
    }
  }
  await walk(root);
  return out;
}

/**
 * The model digest of a path. A file: its sha256. A directory: per-file sha256 and the
 * root digest of OpenSSF model signing's `files` method (SPEC.md, "Model digests").
 */
export async function hashPath(path: string, suite: Pick<CryptoSuite, 'sha256'>, opts: { allowSymlinks?: boolean; progress?: Progress } = {}): Promise<PathDigest> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ChorusError(code === 'ENOENT' ? 'not_found' : 'io_error', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (st.isSymbolicLink()) st = await stat(path);
  const name = basename(path);
  if (st.isFile()) {
    let done = 0;
    const digest = await hashFile(path, (n) => opts.progress?.((done += n), st.size));
    return { digest, kind: 'file', name, bytes: st.size };
  }
  if (!st.isDirectory()) throw new ChorusError('bad_input', `${path} is neither a file nor a directory`);
  const files = await listFiles(path, opts.allowSymlinks ?? false);
  const total = files.reduce((s, f) => s + f.size, 0);
  let done = 0;
  const digests: FileDigest[] = [];
  for (const f of files) {
    digests.push({ path: f.rel, sha256: await hashFile(f.abs, (n) => opts.progress?.((done += n), total)) });
  }
  const { root, files: ordered } = rootDigest(digests, suite);
  return { digest: root, kind: 'directory', name, bytes: total, files: ordered };
}
