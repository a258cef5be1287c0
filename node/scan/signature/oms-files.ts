/**
 * The model side of an OMS signature: the resources a predicate lists, checked against the
 * files on disk. Names come from an untrusted file, so each is validated to be a plain
 * relative path before anything is opened, and every file is opened through its real path,
 * which must lie inside the model directory.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, realpath, lstat, stat } from 'node:fs/promises';
import { join, relative, sep, isAbsolute } from 'node:path';
import { OMS_GIT_PATHS, resourceShape, type OmsFileResult, type OmsLimits, type OmsProblem, type OmsSerialization } from './oms-format.js';

export interface Resource {
  /** The name as the predicate lists it (`path` or `path:start:end`). */
  readonly name: string;
  /** The file, relative to the model dir, POSIX separators. */
  readonly path: string;
  /** A shard's byte range [start, end); absent for a whole file. */
  readonly start?: number;
  readonly end?: number;
  /** sha256, lowercase hex. */
  readonly digest: string;
}

const CHUNK = 1024 * 1024;
/** Read-only and non-blocking: opening a FIFO planted in a model dir must not hang; fstat then refuses it. */
export const OPEN_READ = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Why a resource path is not a plain relative path inside the model dir, or undefined when it is. */
export function unsafePath(path: string): string | undefined {
  if (path.length === 0) return 'empty';
  if (path.includes('\0')) return 'contains NUL';
  if (path.includes('\\')) return 'contains a backslash';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'absolute';
  for (const component of path.split('/')) {
    if (component === '') return 'empty path component';
    if (component === '.' || component === '..') return `"${component}" component`;
  }
  return undefined;
}

/**
 * Validates the predicate's resources: names (a safe relative path, `path:start:end` for
 * shards), algorithm sha256, 32-byte hex digests, no duplicates. Returns the usable ones and
 * the raw digests in listed order (for the subject digest), or problems.
 */
export function parseResources(raw: readonly unknown[], ser: OmsSerialization, limits: OmsLimits): { resources: Resource[]; rawDigests: Buffer[] | undefined; problems: OmsProblem[] } {
  const problems: OmsProblem[] = [];
  if (raw.length > limits.maxResources) {
    return { resources: [], rawDigests: undefined, problems: [{ code: 'too-many-resources', detail: `${raw.length} resources listed, more than the limit of ${limits.maxResources}` }] };
  }
  const resources: Resource[] = [];
  const rawDigests: Buffer[] = [];
  const seen = new Set<string>();
  let bad = 0;
  const fail = (detail: string): void => {
    if (++bad <= 20) problems.push({ code: 'bad-resource', detail });
  };
  for (const [index, resource] of raw.entries()) {
    const parsed = resourceShape.safeParse(resource);
    if (!parsed.success) {
      fail(`resource ${index}: not {name, algorithm, digest}`);
      continue;
    }
    const { name, algorithm } = parsed.data;
    const digest = parsed.data.digest.toLowerCase();
    const shown = JSON.stringify(name.slice(0, 200));
    if (Buffer.byteLength(name, 'utf8') > limits.maxNameBytes) {
      fail(`resource ${index}: name longer than ${limits.maxNameBytes} bytes`);
      continue;
    }
    if (algorithm !== 'sha256') {
      problems.push({ code: 'unsupported-serialization', detail: `resource ${shown}: algorithm ${JSON.stringify(algorithm.slice(0, 64))} (only sha256 is recomputed)` });
      rawDigests.push(Buffer.from(/^[0-9a-f]*$/.test(digest) && digest.length % 2 === 0 ? digest : '', 'hex'));
      continue;
    }
    if (!/^[0-9a-f]{64}$/.test(digest)) {
      fail(`resource ${shown}: digest is not 64 hex digits`);
      continue;
    }
    rawDigests.push(Buffer.from(digest, 'hex'));
    let path = name;
    let range: { start: number; end: number } | undefined;
    if (ser.method === 'shards') {
      const parts = name.split(':');
      const [shardPath, startText, endText] = parts;
      const start = Number(startText);
      const end = Number(endText);
      if (parts.length !== 3 || shardPath === undefined || !/^\d+$/.test(startText ?? '') || !/^\d+$/.test(endText ?? '') || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) {
        fail(`resource ${shown}: not a shard name path:start:end`);
        continue;
      }
      path = shardPath;
      range = { start, end };
    }
    const why = unsafePath(path);
    if (why !== undefined) {
      fail(`resource ${shown}: path is ${why}; nothing outside the model directory is read`);
      continue;
    }
    if (seen.has(name)) {
      fail(`resource ${shown} is listed twice`);
      continue;
    }
    seen.add(name);
    resources.push(range ? { name, path, digest, ...range } : { name, path, digest });
  }
  if (bad > 20) problems.push({ code: 'bad-resource', detail: `${bad - 20} more malformed resources` });
  return { resources, rawDigests: bad === 0 ? rawDigests : undefined, problems };
}

/** sha256 over the raw digests in listed order: the subject digest OMS v1.0 signs. */
export function subjectDigestOf(rawDigests: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const digest of rawDigests) hash.update(digest);
  return hash.digest('hex');
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

async function hashFrom(fh: import('node:fs/promises').FileHandle, start: number, end: number | undefined): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = start;
  for (;;) {
    const want = end === undefined ? CHUNK : Math.min(CHUNK, end - pos);
    if (want <= 0) break;
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

/**
 * Recomputes every listed resource from the files under `realRoot` (the model dir's real
 * path): one result per resource, and problems for missing, unreadable, different files, for
 * links the signature does not allow, and for shards that do not cover their file.
 */
export async function checkResources(realRoot: string, resources: readonly Resource[], ser: OmsSerialization, linkRoot?: string): Promise<{ files: OmsFileResult[]; problems: OmsProblem[] }> {
  const files: OmsFileResult[] = [];
  const problems: OmsProblem[] = [];
  const byPath = new Map<string, Resource[]>();
  for (const resource of resources) byPath.set(resource.path, [...(byPath.get(resource.path) ?? []), resource]);
  for (const [path, items] of byPath) {
    const abs = join(realRoot, ...path.split('/'));
    const failAll = (code: OmsProblem['code'], detail: string): void => {
      problems.push({ code, detail: `${path}: ${detail}` });
      for (const resource of items) files.push({ name: resource.name, ok: false, expected: resource.digest });
    };
    let real: string;
    try {
      const linkStats = await lstat(abs);
      real = await realpath(abs);
      const linked = linkStats.isSymbolicLink() || real !== abs;
      const inLinkRoot = linkRoot !== undefined && inside(linkRoot, real);
      if (linked && !ser.allow_symlinks && !inLinkRoot) {
        failAll('symlink', 'is (or lies under) a symbolic link, and the signature does not allow links');
        continue;
      }
      if (!inside(realRoot, real) && !inLinkRoot) {
        failAll('symlink', 'resolves outside the model directory; not read');
        continue;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') failAll('file-missing', 'listed in the signature, not on disk');
      else failAll('file-unreadable', `cannot read (${code ?? (e as Error).message})`);
      continue;
    }
    let fh;
    try {
      fh = await open(real, OPEN_READ);
    } catch (e) {
      failAll('file-unreadable', `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        failAll('file-unreadable', 'not a regular file');
        continue;
      }
      const sorted = [...items].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
      let covered = 0;
      for (const resource of sorted) {
        const actual = await hashFrom(fh, resource.start ?? 0, resource.end);
        const ok = actual === resource.digest && (resource.end === undefined || resource.end <= st.size);
        files.push({ name: resource.name, ok, expected: resource.digest, actual });
        if (!ok) problems.push({ code: 'file-mismatch', detail: `${resource.name}: sha256 ${actual}, signed ${resource.digest}` });
        if (resource.start !== undefined && resource.end !== undefined && resource.start === covered) covered = resource.end;
      }
      if (ser.method === 'shards' && covered !== st.size) {
        problems.push({ code: 'file-mismatch', detail: `${path}: the signed shards cover bytes 0..${covered} of a ${st.size}-byte file` });
      }
    } catch (e) {
      failAll('file-unreadable', `read failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    } finally {
      await fh.close();
    }
  }
  return { files, problems };
}

/** The ignore list a verifier applies: git paths, the signature's ignore_paths, the signature file. */
export function ignoreList(ser: OmsSerialization, signatureRel: string | undefined): { ignore: string[]; problems: OmsProblem[] } {
  const problems: OmsProblem[] = [];
  const ignore: string[] = [...OMS_GIT_PATHS];
  for (const raw of ser.ignore_paths ?? []) {
    const path = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const why = unsafePath(path);
    if (why !== undefined) problems.push({ code: 'bad-resource', detail: `ignore path ${JSON.stringify(raw.slice(0, 200))} is ${why}; not applied` });
    else ignore.push(path);
  }
  if (signatureRel !== undefined) ignore.push(signatureRel);
  return { ignore, problems };
}

function ignored(rel: string, ignore: readonly string[]): boolean {
  return ignore.some((prefix) => rel === prefix || rel.startsWith(prefix + '/'));
}

/**
 * Files under the model dir that the signature neither lists nor ignores (OMS verification
 * fails on them too). Walks at most `maxWalkEntries` entries; links are not followed.
 */
export async function findUncovered(realRoot: string, covered: ReadonlySet<string>, ignore: readonly string[], ser: OmsSerialization, limits: OmsLimits, linkRoot?: string): Promise<OmsProblem[]> {
  const problems: OmsProblem[] = [];
  let visited = 0;
  let extras = 0;
  const report = (problem: OmsProblem): void => {
    if (problem.code === 'file-extra' && ++extras > 50) return;
    problems.push(problem);
  };
  const stack: string[] = [realRoot];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      report({ code: 'model-dir-unreadable', detail: `${relative(realRoot, dir) || '.'}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    for (const entry of entries) {
      if (++visited > limits.maxWalkEntries) {
        problems.push({ code: 'limit', detail: `more than ${limits.maxWalkEntries} entries in the model directory; files past them were not checked for coverage` });
        return problems;
      }
      const abs = join(dir, entry.name);
      const rel = relative(realRoot, abs).split(sep).join('/');
      if (ignored(rel, ignore)) continue;
      if (entry.isDirectory()) {
        stack.push(abs);
        continue;
      }
      if (covered.has(rel)) continue;
      if (entry.isSymbolicLink()) {
        const target = linkRoot === undefined ? undefined : await realpath(abs).catch(() => undefined);
        if (!ser.allow_symlinks && !(target !== undefined && linkRoot !== undefined && inside(linkRoot, target))) {
          report({ code: 'symlink', detail: `${rel}: a symbolic link, and the signature does not allow links` });
          continue;
        }
        const st = await stat(abs).catch(() => undefined);
        if (st?.isFile() && !(ser.method === 'shards' && st.size === 0)) report({ code: 'file-extra', detail: `${rel}: on disk (a link to a file), not covered by the signature` });
        continue;
      }
      if (entry.isFile()) {
        // The shard serializer lists no shard for an empty file.
        if (ser.method === 'shards') {
          const st = await lstat(abs).catch(() => undefined);
          if (st?.size === 0) continue;
        }
        report({ code: 'file-extra', detail: `${rel}: on disk, not covered by the signature` });
        continue;
      }
      report({ code: 'file-extra', detail: `${rel}: not a regular file, not covered by the signature` });
    }
  }
  if (extras > 50) problems.push({ code: 'file-extra', detail: `${extras - 50} more files not covered by the signature` });
  return problems;
}
