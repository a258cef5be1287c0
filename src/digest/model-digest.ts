import { concatBytes, fromHex, toHex } from '../encoding/bytes.js';
import type { CryptoSuite } from '../crypto/suite.js';

/** Top-level names a model directory digest skips, as OpenSSF model signing does. */
export const IGNORED_TOP_LEVEL = ['.git', '.github', '.gitattributes', '.gitignore', 'model.sig'] as const;

export interface FileDigest {
  /** Path relative to the model root, POSIX separators. */
  readonly path: string;
  /** sha256 of the file's bytes, lowercase hex. */
  readonly sha256: string;
}

/**
 * Orders paths as Python's PurePosixPath does: component by component, each compared by
 * code point. ("a/b" sorts before "a-b" because "a" < "a-b".)
 */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const partA = pa[i] as string;
    const partB = pb[i] as string;
    if (partA !== partB) return compareCodePoints(partA, partB);
  }
  return pa.length - pb.length;
}

function compareCodePoints(x: string, y: string): number {
  const ax = [...x];
  const ay = [...y];
  const n = Math.min(ax.length, ay.length);
  for (let i = 0; i < n; i++) {
    const diff = (ax[i] as string).codePointAt(0)! - (ay[i] as string).codePointAt(0)!;
    if (diff !== 0) return diff;
  }
  return ax.length - ay.length;
}

/** True when a path relative to the model root is skipped by the directory digest. */
export function isIgnoredPath(relative: string): boolean {
  const top = relative.split('/')[0] as string;
  return (IGNORED_TOP_LEVEL as readonly string[]).includes(top);
}

/**
 * The root digest of a multi-file model: sha256 over the concatenated raw 32-byte
 * sha256 digests of every file, ordered by `comparePaths` (SPEC.md, "Model digests").
 */
export function rootDigest(files: readonly FileDigest[], suite: Pick<CryptoSuite, 'sha256'>): { root: string; files: FileDigest[] } {
  const ordered = [...files].sort((a, b) => comparePaths(a.path, b.path));
  const raw = ordered.map((file) => {
    const digestBytes = fromHex(file.sha256);
    if (!digestBytes || digestBytes.length !== 32) throw new RangeError(`not a sha256 digest: ${file.sha256}`);
    return digestBytes;
  });
  return { root: toHex(suite.sha256(concatBytes(...raw))), files: ordered };
}
