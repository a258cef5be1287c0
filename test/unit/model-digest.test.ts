import { describe, expect, it } from 'vitest';
import { comparePaths, isIgnoredPath } from '../../src/digest/model-digest.js';
import { parseDigest } from '../../src/digest/parse-digest.js';
import { isChorusError } from '../../src/errors.js';

describe('model digest ordering and parsing', () => {
  it('orders paths as PurePosixPath: by component, by code point', () => {
    expect(['a-b', 'a/b', 'B', 'a', 'é', 'z'].sort(comparePaths)).toEqual(['B', 'a', 'a/b', 'a-b', 'z', 'é']);
  });
  it('skips the ignored names only at the top level', () => {
    expect(isIgnoredPath('.git/HEAD')).toBe(true);
    expect(isIgnoredPath('model.sig')).toBe(true);
    expect(isIgnoredPath('sub/.gitignore')).toBe(false);
    expect(isIgnoredPath('.gitmodules')).toBe(false);
  });
  it('reads sha256:<hex> and bare hex in either case, rejects the rest by name', () => {
    const h = 'AB'.repeat(32);
    expect(parseDigest(`sha256:${h}`)).toBe(h.toLowerCase());
    expect(parseDigest(h)).toBe(h.toLowerCase());
    const e = (() => { try { parseDigest('sha512:abc'); } catch (x) { return x; } })();
    expect(isChorusError(e, 'bad_input')).toBe(true);
    expect((e as Error).message).toContain('sha512:abc');
  });
});
