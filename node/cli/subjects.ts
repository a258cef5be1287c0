import { ChorusError } from '../../src/errors.js';
import { looksLikeDigest, parseDigest } from '../../src/digest/parse-digest.js';
import type { Subject } from '../../src/statement/statement.js';
import { nativeSuite } from '../crypto/native-suite.js';
import { hashPath } from '../hash/hash-path.js';
import { progressBar } from './progress.js';

/** A subject given as a digest, or as a path to hash (file or model directory). */
export async function resolveSubject(arg: string, opts: { allowSymlinks?: boolean } = {}): Promise<Subject> {
  if (looksLikeDigest(arg)) return { name: '', digest: { sha256: parseDigest(arg) } };
  const bar = progressBar(`hashing ${arg}`);
  try {
    const d = await hashPath(arg, nativeSuite(), { allowSymlinks: opts.allowSymlinks ?? false, progress: bar.update });
    return { name: d.name, digest: { sha256: d.digest } };
  } catch (e) {
    // Not there: "not found" (exit 4), as `chorus hash` and `chorus scan` say it.
    if (e instanceof ChorusError && e.code === 'not_found') {
      throw new ChorusError('not_found', `"${arg}" is neither a sha256 digest nor an existing file or directory`);
    }
    throw e;
  } finally {
    bar.stop();
  }
}
