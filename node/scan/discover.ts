import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';

/** Where a local runtime keeps models, and whether it is there. */
export interface ModelRoot {
  readonly runtime: 'ollama' | 'huggingface' | 'lmstudio' | 'llama.cpp' | 'path';
  readonly path: string;
  /** Which variable or default named it. */
  readonly source: string;
}

/** A file of a model. A digest from a blob's name is a claim until `--verify` re-hashes it. */
export interface ModelFile {
  readonly path: string;
  readonly size: number;
  /** The sha256 the runtime's layout names it by (64 hex, checked), if any. */
  readonly claimedSha256?: string;
  /** Its name inside the model (e.g. the snapshot's file name). */
  readonly name: string;
}

/** A model as the user knows it: Ollama `name:tag`, Hugging Face `org/name@revision`, or a path. */
export interface DiscoveredModel {
  readonly name: string;
  readonly runtime: ModelRoot['runtime'];
  readonly root: string;
  readonly files: ModelFile[];
  /** The directory that is this model (and may hold its model signature), when the model is one. */
  readonly dir?: string;
  /** Links inside `dir` that resolve under this directory are read as the files they name (a Hugging Face snapshot's links into its repo's blobs). */
  readonly linkRoot?: string;
}

export interface DiscoveryProblem {
  readonly path: string;
  readonly message: string;
}

/** Bounds of one walk: a hostile or broken tree cannot make it run away. */
const MAX_ENTRIES = 100_000;
const MAX_DEPTH = 16;
const MAX_MANIFEST_BYTES = 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The places local runtimes keep models, honouring their environment variables (Ollama's
 * OLLAMA_MODELS, Hugging Face's HF_HUB_CACHE and HF_HOME, llama.cpp's LLAMA_CACHE), and
 * their defaults under the home directory (and the Linux Ollama service's).
 */
export function modelRoots(env: NodeJS.ProcessEnv = process.env, home = homedir()): ModelRoot[] {
  const roots: ModelRoot[] = [];
  const add = (runtime: ModelRoot['runtime'], path: string, source: string): void => {
    if (!roots.some((root) => root.path === resolve(path))) roots.push({ runtime, path: resolve(path), source });
  };
  if (env['OLLAMA_MODELS']) add('ollama', env['OLLAMA_MODELS'], 'OLLAMA_MODELS');
  add('ollama', join(home, '.ollama', 'models'), 'default');
  add('ollama', '/usr/share/ollama/.ollama/models', 'Linux service default');
  if (env['HF_HUB_CACHE']) add('huggingface', env['HF_HUB_CACHE'], 'HF_HUB_CACHE');
  if (env['HF_HOME']) add('huggingface', join(env['HF_HOME'], 'hub'), 'HF_HOME');
  add('huggingface', join(env['XDG_CACHE_HOME'] ?? join(home, '.cache'), 'huggingface', 'hub'), 'default');
  add('lmstudio', join(home, '.lmstudio', 'models'), 'default');
  add('lmstudio', join(home, '.cache', 'lm-studio', 'models'), 'older default');
  if (env['LLAMA_CACHE']) add('llama.cpp', env['LLAMA_CACHE'], 'LLAMA_CACHE');
  add('llama.cpp', join(env['XDG_CACHE_HOME'] ?? join(home, '.cache'), 'llama.cpp'), 'default');
  return roots;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((stats) => stats.isDirectory(), () => false);
}

/** A regular file's size, or a problem (FIFOs, devices, sockets and unreadable files are skipped). */
async function regularFile(path: string, problems: DiscoveryProblem[]): Promise<number | undefined> {
  try {
    const stats = await stat(path);
    if (!stats.isFile()) {
      problems.push({ path, message: 'not a regular file (skipped)' });
      return undefined;
    }
    return stats.size;
  } catch (e) {
    problems.push({ path, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return undefined;
  }
}

/** Whether `target` lies inside `root` (after symlinks are resolved). */
function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && !rel.includes(`..${sep}`);
}

/** Ollama: manifests/<host>/<namespace>/<name>/<tag> name the blobs of a model. */
async function ollama(root: string, problems: DiscoveryProblem[]): Promise<DiscoveredModel[]> {
  const manifests = join(root, 'manifests');
  const out: DiscoveredModel[] = [];
  /** Every blob any manifest names (config, template, params, license and model layers). */
  const named = new Set<string>();
  for (const file of await walkFiles(manifests, problems)) {
    const parts = relative(manifests, file).split(sep);
    if (parts.length !== 4) continue;
    const [host, ns, name, tag] = parts as [string, string, string, string];
    const familiar = host === 'registry.ollama.ai' ? (ns === 'library' ? `${name}:${tag}` : `${ns}/${name}:${tag}`) : `${host}/${ns}/${name}:${tag}`;
    let manifest: { layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[] };
    try {
      const stats = await stat(file);
      if (stats.size > MAX_MANIFEST_BYTES) throw new Error('manifest too large');
      manifest = JSON.parse(await readFile(file, 'utf8')) as typeof manifest;
    } catch (e) {
      problems.push({ path: file, message: `not an Ollama manifest: ${(e as Error).message}` });
      continue;
    }
    const files: ModelFile[] = [];
    const config = (manifest as { config?: { digest?: unknown } }).config;
    if (typeof config?.digest === 'string') named.add(config.digest.slice(7));
    for (const layer of Array.isArray(manifest.layers) ? manifest.layers.slice(0, 64) : []) {
      const digest = typeof layer.digest === 'string' ? layer.digest : '';
      const hex = digest.startsWith('sha256:') ? digest.slice(7) : '';
      named.add(hex);
      // A name is a claim, and a path: only 64 hex characters make a blob file name.
      if (!SHA256.test(hex)) {
        if (digest !== '') problems.push({ path: file, message: `layer digest is not sha256:<64 hex>: ${digest.slice(0, 80)}` });
        continue;
      }
      if (layer.mediaType !== 'application/vnd.ollama.image.model' && layer.mediaType !== 'application/vnd.ollama.image.projector' && layer.mediaType !== 'application/vnd.ollama.image.adapter') continue;
      const blob = [join(root, 'blobs', `sha256-${hex}`), join(root, 'blobs', `sha256:${hex}`)];
      for (const blobPath of blob) {
        const size = await stat(blobPath).then((stats) => (stats.isFile() ? stats.size : undefined), () => undefined);
        if (size !== undefined) {
          files.push({ path: blobPath, size, claimedSha256: hex, name: String(layer.mediaType).split('.').at(-1) ?? 'model' });
          break;
        }
      }
    }
    if (files.length > 0) out.push({ name: familiar, runtime: 'ollama', root, files });
    else problems.push({ path: file, message: `${familiar}: no model blob present` });
  }
  out.push(...(await ollamaOrphans(root, named, problems)));
  return out;
}

/**
 * Blobs no manifest names: left by a removed model, or put there by someone else. Each is
 * reported as a model of its own (its name a claim, re-hashed with --verify); a half-finished
 * download (`-partial`) is not a blob yet and is skipped.
 */
async function ollamaOrphans(root: string, named: ReadonlySet<string>, problems: DiscoveryProblem[]): Promise<DiscoveredModel[]> {
  const dir = join(root, 'blobs');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: DiscoveredModel[] = [];
  for (const name of names.slice(0, MAX_ENTRIES)) {
    const match = /^sha256[-:]([0-9a-f]{64})$/.exec(name);
    if (match === null) {
      if (!/-partial(?:-\d+)?$/.test(name)) problems.push({ path: join(dir, name), message: 'not an Ollama blob name (sha256-<64 hex>)' });
      continue;
    }
    const hex = match[1] as string;
    if (named.has(hex)) continue;
    const path = join(dir, name);
    const linkStats = await lstat(path).catch(() => undefined);
    if (linkStats === undefined || !linkStats.isFile()) continue;
    out.push({ name: `orphan blob sha256:${hex.slice(0, 12)}… (no manifest names it)`, runtime: 'ollama', root, files: [{ path, size: linkStats.size, claimedSha256: hex, name: 'orphan' }] });
  }
  if (names.length > MAX_ENTRIES) problems.push({ path: dir, message: `more than ${MAX_ENTRIES} entries: the rest were not looked at` });
  return out;
}

/** Hugging Face hub cache: models--org--name/snapshots/<revision>/… link into blobs/. */
async function huggingface(root: string, problems: DiscoveryProblem[]): Promise<DiscoveredModel[]> {
  const out: DiscoveredModel[] = [];
  const realRoot = await realpath(root).catch(() => root);
  for (const repo of await readdir(root).catch(() => [] as string[])) {
    if (!repo.startsWith('models--')) continue;
    const repoName = repo.slice('models--'.length).split('--').join('/');
    const refs = new Map<string, string>();
    for (const ref of await readdir(join(root, repo, 'refs')).catch(() => [] as string[])) {
      const rev = (await readFile(join(root, repo, 'refs', ref), 'utf8').catch(() => '')).trim();
      if (/^[0-9a-f]{40}$/.test(rev)) refs.set(rev, ref);
    }
    for (const rev of await readdir(join(root, repo, 'snapshots')).catch(() => [] as string[])) {
      const snap = join(root, repo, 'snapshots', rev);
      const files: ModelFile[] = [];
      for (const file of await walkFiles(snap, problems)) {
        const real = await realpath(file).catch(() => undefined);
        if (real === undefined || !inside(realRoot, real)) {
          problems.push({ path: file, message: 'links outside the cache (skipped)' });
          continue;
        }
        const size = await regularFile(real, problems);
        if (size === undefined) continue;
        const blobName = basename(real);
        files.push({ path: real, size, name: relative(snap, file), ...(SHA256.test(blobName) ? { claimedSha256: blobName } : {}) });
      }
      const label = refs.get(rev) ?? rev.slice(0, 12);
      if (files.length > 0) out.push({ name: `${repoName}@${label}`, runtime: 'huggingface', root, files, dir: snap, linkRoot: join(root, repo) });
    }
  }
  return out;
}

/** LM Studio and llama.cpp: model files in publisher/repo folders (or flat). */
async function byPath(root: string, runtime: ModelRoot["runtime"], problems: DiscoveryProblem[]): Promise<DiscoveredModel[]> {
  const groups = new Map<string, ModelFile[]>();
  for (const file of await walkFiles(root, problems)) {
    const size = await regularFile(file, problems);
    if (size === undefined) continue;
    const rel = relative(root, file);
    const dir = rel.includes(sep) ? rel.slice(0, rel.lastIndexOf(sep)) : '';
    const key = dir === '' ? rel : dir;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push({ path: file, size, name: dir === '' ? rel : rel.slice(dir.length + 1) });
  }
  // A directory signed as one model (OpenSSF model signing writes model.sig beside it) is one model.
  if (await regularFile(join(root, OMS_SIGNATURE_NAME), []) !== undefined) {
    const files = [...groups.values()].flat().map((file) => ({ ...file, name: relative(root, file.path) }));
    return [{ name: basename(root), runtime, root, files, dir: root }];
  }
  // A group named after a subdirectory is that directory's model; a loose top-level file is its own.
  return [...groups].map(([name, files]) => ({ name: name.split(sep).join('/'), runtime, root, files, ...(files.some((file) => file.name === name) ? {} : { dir: join(root, name) }) }));
}

/** The file name OpenSSF model signing gives a model's signature. */
const OMS_SIGNATURE_NAME = 'model.sig';

/**
 * Every file under `dir` (symlinks followed only when they stay inside `dir`, loops and
 * depth bounded, at most MAX_ENTRIES entries); problems are reported, never thrown.
 */
export async function walkFiles(dir: string, problems: DiscoveryProblem[]): Promise<string[]> {
  const out: string[] = [];
  const top = await realpath(dir).catch(() => undefined);
  if (top === undefined) return out;
  const seen = new Set<string>([top]);
  let entries = 0;
  const walk = async (dirPath: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) {
      problems.push({ path: dirPath, message: `deeper than ${MAX_DEPTH} levels (skipped)` });
      return;
    }
    let names: string[];
    try {
      names = (await readdir(dirPath)).sort();
    } catch (e) {
      problems.push({ path: dirPath, message: `cannot list: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    for (const name of names) {
      if (++entries > MAX_ENTRIES) {
        if (entries === MAX_ENTRIES + 1) problems.push({ path: dir, message: `more than ${MAX_ENTRIES} entries: the rest is not scanned` });
        return;
      }
      if (name.startsWith('.')) continue;
      const path = join(dirPath, name);
      const linkStats = await lstat(path).catch(() => undefined);
      if (linkStats === undefined) continue;
      if (linkStats.isSymbolicLink()) {
        const real = await realpath(path).catch(() => undefined);
        if (real === undefined) {
          problems.push({ path: path, message: 'broken or looping symbolic link (skipped)' });
          continue;
        }
        const stats = await stat(real).catch(() => undefined);
        if (stats?.isDirectory()) {
          if (seen.has(real) || !inside(top, real)) continue;
          seen.add(real);
          await walk(path, depth + 1);
        } else out.push(path);
      } else if (linkStats.isDirectory()) {
        await walk(path, depth + 1);
      } else out.push(path);
    }
  };
  await walk(top, 0);
  return out;
}

/** The models under one root, named the way its runtime names them. */
export async function discover(root: ModelRoot): Promise<{ found: boolean; models: DiscoveredModel[]; problems: DiscoveryProblem[] }> {
  const problems: DiscoveryProblem[] = [];
  if (!(await isDir(root.path))) {
    const size = root.runtime === 'path' ? await stat(root.path).then((stats) => (stats.isFile() ? stats.size : undefined), () => undefined) : undefined;
    if (size === undefined) return { found: false, models: [], problems };
    return { found: true, models: [{ name: root.path, runtime: 'path', root: root.path, files: [{ path: root.path, size, name: basename(root.path) }] }], problems };
  }
  const models = root.runtime === 'ollama' ? await ollama(root.path, problems)
    : root.runtime === 'huggingface' ? await huggingface(root.path, problems)
      : await byPath(root.path, root.runtime, problems);
  return { found: true, models, problems };
}
