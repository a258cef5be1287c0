import { dirname, join, relative, sep } from 'node:path';
import { rootDigest } from '../../src/digest/model-digest.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { Status } from '../../src/reputation/view-schema.js';
import { hashFile } from '../hash/hash-path.js';
import { discover, modelRoots, type DiscoveredModel, type DiscoveryProblem, type ModelRoot } from './discover.js';
import type { HashCache } from './hash-cache.js';
import { findModelSignature, verifyModelSignature, type OmsTrust, type OmsVerification } from './signature/oms.js';
import { constants } from 'node:fs';
import { access, open, readFile, stat } from 'node:fs/promises';
import { ChorusError } from '../../src/errors.js';
import { coverageOf, INSPECT_LIMITS, inspectFile, walkPickle, type Coverage, type Finding, type ModelFormat } from './inspect/index.js';
import { inspectChatTemplate } from './inspect/chat-template.js';

/** One file of a scanned model. */
export interface ScannedFile {
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  /** name: the runtime's blob name (a claim); verified: re-hashed and equal; hashed: read here; cached: from the hash cache. */
  readonly digestFrom: 'name' | 'verified' | 'hashed' | 'cached';
  readonly format: ModelFormat;
  readonly findings: readonly Finding[];
  /** Its name claims one digest and its content has another (with --verify). */
  readonly tampered?: { claimed: string; actual: string };
  /** Facts inspection read (GGUF name, license, base models…). */
  readonly meta: Record<string, unknown>;
  /** What inspection established: inspected, not-inspected (and why) or stopped at a limit. */
  readonly coverage: Coverage;
}

/** What the node's view and the inspection say about one model. */
export interface ScannedModel {
  readonly name: string;
  readonly runtime: ModelRoot['runtime'];
  readonly root: string;
  /** The digest its standing is asked about: the file's, or the directory digest of a multi-file model. */
  readonly digest: string;
  readonly files: readonly ScannedFile[];
  /** The worst status in this node's view over the model digest and its model files. */
  readonly status: Status;
  readonly reason: string;
  /** Its OpenSSF model signature (model.sig), when its directory has one, and what verifying it found. */
  readonly signature?: ModelSignature;
  /**
   * dangerous: inspection found something critical or high, or a file is tampered;
   * not-inspected: a file whose format can carry code was not read in full (see its coverage);
   * findings: lesser findings; no-model-format: none of its files is in a format inspection reads
   * (text, JSON…), so nothing is claimed; clean: files were inspected, every one that can carry
   * code in full, and nothing was found.
   */
  readonly inspection: 'dangerous' | 'not-inspected' | 'findings' | 'no-model-format' | 'clean';
}

/** A model signature found beside a model, as scan reports it. */
export interface ModelSignature {
  readonly path: string;
  /** A key or trusted root was pinned: `verified` means what it says. Without one nothing is verified. */
  readonly pinned: boolean;
  readonly verification: OmsVerification;
}

export interface ScanReport {
  readonly roots: { runtime: ModelRoot['runtime']; path: string; source: string; found: boolean; models: number }[];
  readonly models: ScannedModel[];
  readonly problems: DiscoveryProblem[];
}

/** What a scan asks of the node: its view of a digest. */
export interface ViewSource {
  view(digest: string, opts?: { lookup?: boolean }): Promise<{ readonly status: Status; readonly reason: string }>;
}

export interface ScanOptions {
  /** Paths to scan; none: the places local runtimes keep models. */
  readonly paths: readonly string[];
  readonly verify: boolean;
  /** Without a cache every file is hashed (the gate does not trust metadata). */
  readonly cache: HashCache | undefined;
  /** The node's view of a digest (a NodeClient: the running daemon or this process's store). */
  readonly client: ViewSource;
  readonly suite: Pick<CryptoSuite, 'sha256'>;
  readonly env?: NodeJS.ProcessEnv;
  /** Progress of hashing: bytes done, bytes to do (only files that need reading count). */
  readonly onBytes?: (done: number, total: number) => void;
  readonly onModel?: (model: ScannedModel) => void;
  /** The key or trusted root model signatures are verified against; none: signatures are read, never called verified. */
  readonly signatureTrust?: OmsTrust | undefined;
}

const ORDER: Record<Status, number> = { flagged: 4, disputed: 3, caution: 2, ok: 1, unknown: 0 };

/** What inspection of one file yields, as a scan keeps (and caches) it. */
interface Inspected {
  readonly format: ModelFormat;
  readonly findings: readonly Finding[];
  readonly meta: Record<string, unknown>;
}

/** A dotted Python name: what an import in a pickle must be for Python to import it. */
const PY_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Bytes of an unrecognised file walked as a pickle, at most. */
const HIDDEN_PICKLE_BYTES = 1024 * 1024;

/** Import findings of an unrecognised file read as a pickle (none when it imports nothing). */
async function hiddenPickle(path: string): Promise<Finding[]> {
  let bytes: Buffer;
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(HIDDEN_PICKLE_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      bytes = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
  const walk = walkPickle(bytes, { complete: false });
  // Text read as a pickle makes "imports" of whatever follows a `c` or an `i` (Python source
  // starts `import …`): a name Python cannot import fails the load before anything runs.
  if (!walk.meta.imports.some((imp) => PY_NAME.test(imp.module) && PY_NAME.test(imp.name))) return [];
  return walk.findings.filter((finding) => finding.kind.endsWith('-import')).map((finding) => ({ ...finding, detail: `read as a pickle (no known format): ${finding.detail}` }));
}

/** Files beside a model that carry a chat template transformers renders: `tokenizer_config.json`, `chat_template.json`, `*.jinja`. */
const TEMPLATE_FILE = /(?:^|[\\/])(?:tokenizer_config\.json|chat_template\.json|[^\\/]*\.jinja)$/;

/**
 * The chat templates of a tokenizer config or template file, judged as GGUF templates are
 * (transformers renders them in jinja2's sandbox, so an escape needs a sandbox bug too; what
 * reaches Python internals is reported all the same). Bounded by 4 × chatTemplateBytes read.
 */
async function templateFile(path: string, name: string): Promise<Finding[]> {
  if (!TEMPLATE_FILE.test(name)) return [];
  let text: string;
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const max = 4 * INSPECT_LIMITS.chatTemplateBytes;
      const st = await fh.stat();
      if (st.size > max) return [{ kind: 'limit', severity: 'high', detail: `a template file of ${st.size} bytes, more than the ${max} read` }];
      const buf = Buffer.alloc(st.size);
      await fh.read(buf, 0, buf.length, 0);
      text = buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
  if (name.endsWith('.jinja')) return inspectChatTemplate(text, 'chat_template');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const template = (json as { chat_template?: unknown } | null)?.chat_template;
  const templates: [string, string][] = typeof template === 'string' ? [['chat_template', template]]
    : Array.isArray(template) ? template.flatMap((entry: { name?: unknown; template?: unknown }) => (typeof entry?.template === 'string' ? [[`chat_template.${String(entry.name ?? '')}`, entry.template] as [string, string]] : [])) : [];
  return templates.flatMap(([at, tpl]) => inspectChatTemplate(tpl, at));
}

/** Whether the scan should fail a gate: a model flagged, inspection found danger, or a file that can carry code was not read. */
export function scanFailed(report: ScanReport): boolean {
  return report.models.some((model) => model.status === 'flagged' || model.inspection === 'dangerous' || model.inspection === 'not-inspected');
}

/**
 * What this scan could not read, one line each: files it could not hash or read (anywhere),
 * and, under the paths the user named, whatever discovery could not look at (a directory it
 * cannot list, a file it cannot read, a broken link, a special file, too deep, too many
 * entries). A gate never passes a scan with any (`chorus scan` exits 2 and keeps the last
 * scan): "nothing found" must mean nothing was there, not that nothing could be read.
 */
export function unreadParts(report: ScanReport, named: boolean): string[] {
  const out: string[] = [];
  for (const model of report.models) for (const file of model.files) if (file.sha256 === '') out.push(`${file.path}: ${file.findings.find((finding) => finding.kind === 'unreadable')?.detail ?? 'could not be read'}`);
  if (named) for (const problem of report.problems) out.push(`${problem.path}: ${problem.message}`);
  return out;
}

/** Kinds that say what was not read, rather than what was found. */
const GAP_KINDS = new Set<Finding['kind']>(['not-inspected', 'limit', 'unreadable']);

/** A file the gate cannot pass: its format can carry code and it was not read in full. */
export function uninspectedCode(file: Pick<ScannedFile, 'coverage'>): boolean {
  return file.coverage.state !== 'inspected' && file.coverage.codeCapable;
}

/** A finding that condemns a file by what it found (not by what it could not read). */
export function dangerousFinding(finding: Finding): boolean {
  return (finding.severity === 'critical' || finding.severity === 'high') && !GAP_KINDS.has(finding.kind);
}

/**
 * Finds model files, names them the way their runtime does, digests them (a runtime's
 * sha256 blob name is used as a claim, or re-hashed with `verify`; other files go through
 * the hash cache), inspects each statically and asks this node's view about each model.
 */
export async function scan(opts: ScanOptions): Promise<ScanReport> {
  const roots: ModelRoot[] = opts.paths.length > 0 ? opts.paths.map((path) => ({ runtime: 'path', path: path, source: 'argument' })) : modelRoots(opts.env);
  // A path the user named must be there and readable: a typo is an error, never "no model
  // files found" (which a gate would pass), and it replaces no earlier scan.
  for (const path of opts.paths) await checkNamedPath(path);
  const report: ScanReport = { roots: [], models: [], problems: [] };
  const found: { root: ModelRoot; models: DiscoveredModel[] }[] = [];
  for (const root of roots) {
    const discovered = await discover(root);
    report.roots.push({ runtime: root.runtime, path: root.path, source: root.source, found: discovered.found, models: discovered.models.length });
    report.problems.push(...discovered.problems);
    found.push({ root, models: discovered.models });
  }
  // Progress over the bytes that will actually be read.
  let total = 0;
  for (const { models } of found) for (const model of models) for (const file of model.files) if (file.claimedSha256 === undefined || opts.verify) total += file.size;
  const remoteCode = await remoteCodeFiles(found.flatMap((entry) => entry.models.flatMap((model) => model.files)));
  let done = 0;
  const onBytes = (n: number): void => {
    done += n;
    opts.onBytes?.(done, total);
  };
  for (const { models } of found) {
    for (const model of models) {
      const signature = model.dir === undefined ? undefined : await modelSignature(model.dir, opts.signatureTrust, model.linkRoot);
      const scanned = { ...(await scanModel(model, opts, onBytes, remoteCode)), ...(signature === undefined ? {} : { signature }) };
      report.models.push(scanned);
      opts.onModel?.(scanned);
    }
  }
  return report;
}

/** Throws `not_found` for a named path that does not exist, `bad_input` for one that cannot be read or is neither a file nor a directory. */
async function checkNamedPath(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ChorusError('not_found', `${path}: no such file or directory`);
    throw new ChorusError('bad_input', `${path}: cannot be read (${code ?? (e as Error).message})`);
  }
  if (!st.isFile() && !st.isDirectory()) throw new ChorusError('bad_input', `${path}: neither a file nor a directory`);
  try {
    await access(path, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0));
  } catch (e) {
    throw new ChorusError('bad_input', `${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The OMS signature in a model's directory, verified against the pinned trust (if any); none when there is no signature. */
async function modelSignature(dir: string, trust: OmsTrust | undefined, linkRoot: string | undefined): Promise<ModelSignature | undefined> {
  const found = await findModelSignature(dir);
  if (found.signaturePath === undefined) return undefined;
  const verification = await verifyModelSignature({ modelDir: dir, signaturePath: found.signaturePath, trust, ...(linkRoot === undefined ? {} : { linkRoot }) });
  return { path: found.signaturePath, pinned: trust !== undefined, verification };
}

/** Bytes of a config.json read to find its auto_map. */
const CONFIG_BYTES = 1024 * 1024;

/**
 * The Python files a model's configs name for `trust_remote_code` (config.json and
 * tokenizer_config.json `auto_map`, config.json `custom_pipelines`): transformers imports and
 * runs them. Other .py files beside a model (a conversion script) are not loaded by anything.
 */
async function remoteCodeFiles(files: readonly { path: string; name: string; size: number }[]): Promise<Set<string>> {
  const out = new Set<string>();
  const byPath = new Set(files.map((file) => file.path));
  for (const file of files) {
    if (!/(?:^|[\\/])(?:tokenizer_)?config\.json$/.test(file.name) || file.size > CONFIG_BYTES) continue;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file.path, 'utf8'));
    } catch {
      continue;
    }
    const refs: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') refs.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
    };
    const config = json as { auto_map?: unknown; custom_pipelines?: Record<string, { impl?: unknown }> } | null;
    collect(config?.auto_map);
    for (const pipeline of Object.values(config?.custom_pipelines ?? {})) collect(pipeline?.impl);
    for (const ref of refs.slice(0, 256)) {
      // "modeling_x.Class" or "org/repo--modeling_x.Class": the module is the part before the class.
      const mod = ref.replace(/^.*--/, '').split('.').slice(0, -1).join('/');
      if (mod === '') continue;
      const py = join(dirname(file.path), `${mod}.py`);
      if (byPath.has(py)) out.add(py);
    }
  }
  return out;
}

async function scanModel(model: DiscoveredModel, opts: ScanOptions, onBytes: (n: number) => void, remoteCode: ReadonlySet<string>): Promise<ScannedModel> {
  const files: ScannedFile[] = [];
  for (const f of model.files) {
    let sha256: string;
    let digestFrom: ScannedFile['digestFrom'];
    let tampered: ScannedFile['tampered'];
    try {
      if (f.claimedSha256 !== undefined && !opts.verify) {
        sha256 = f.claimedSha256;
        digestFrom = 'name';
      } else if (f.claimedSha256 !== undefined) {
        sha256 = await hashFile(f.path, onBytes);
        digestFrom = 'verified';
        if (sha256 !== f.claimedSha256) tampered = { claimed: f.claimedSha256, actual: sha256 };
      } else {
        const hashed = opts.cache ? await opts.cache.digest(f.path, onBytes) : { sha256: await hashFile(f.path, onBytes), cached: false };
        sha256 = hashed.sha256;
        digestFrom = hashed.cached ? 'cached' : 'hashed';
      }
    } catch (e) {
      const findings: Finding[] = [{ kind: 'unreadable', severity: 'low', detail: (e as Error).message }];
      files.push({ path: f.path, name: f.name, size: f.size, sha256: '', digestFrom: 'hashed', format: 'unknown', findings, meta: {}, coverage: coverageOf('unknown', findings, f.name) });
      continue;
    }
    // A file unchanged since it was last inspected (same device, inode, size, mtime, ctime)
    // is not inspected again; the gate (no cache) always inspects.
    const remembered = (await opts.cache?.inspection(f.path).catch(() => undefined)) as Inspected | undefined;
    let inspected: Inspected;
    if (remembered !== undefined) inspected = remembered;
    else {
      const inspection = await inspectFile(f.path);
      let findings = inspection.findings;
      // A pickle need not begin with PROTO: Python's loader runs a file that starts with any
      // opcode. A file no format claims is walked as a pickle too; what it imports is reported.
      if (inspection.format === 'unknown' && f.size > 0) findings = [...findings, ...(await hiddenPickle(f.path)), ...(await templateFile(f.path, f.name))];
      if (inspection.format === 'unknown' && coverageOf('unknown', findings, f.name).codeCapable && !findings.some((finding) => finding.kind === 'unreadable')) {
        findings = [...findings, { kind: 'not-inspected', severity: 'high', detail: 'its content is in no format this scanner reads, and its name is one a loader that runs code opens' }];
      }
      inspected = { format: inspection.format, findings, meta: inspection.meta as Record<string, unknown> };
      await opts.cache?.rememberInspection(f.path, inspected).catch(() => undefined);
    }
    // Not cached with the file: it depends on another file (the config that names it).
    if (remoteCode.has(f.path)) inspected = { ...inspected, findings: [...inspected.findings, { kind: 'embedded-code', severity: 'high', detail: 'Python code a config auto_map names: transformers imports and runs it when loading with trust_remote_code' }] };
    files.push({ path: f.path, name: f.name, size: f.size, sha256, digestFrom, ...inspected, coverage: coverageOf(inspected.format, inspected.findings, f.name), ...(tampered ? { tampered } : {}) });
  }
  const modelFiles = files.filter((file) => file.format !== 'unknown' && file.sha256 !== '');
  // A multi-file model also has a directory digest (what `chorus hash DIR` prints).
  const digest = files.length > 1
    ? rootDigest(files.filter((file) => file.sha256 !== '').map((file) => ({ path: file.name.split(sep).join('/'), sha256: file.sha256 })), opts.suite).root
    : (files[0]?.sha256 ?? '');
  let status: Status = 'unknown';
  let reason = 'nothing is known about it in your view';
  for (const candidate of [...new Set([digest, ...modelFiles.map((file) => file.sha256)])].filter((sha) => sha !== '')) {
    const view = await opts.client.view(candidate, { lookup: false });
    if (ORDER[view.status] > ORDER[status] || (status === 'unknown' && candidate === digest)) {
      status = view.status;
      reason = candidate === digest ? view.reason : `${relative(model.root, files.find((file) => file.sha256 === candidate)?.path ?? '') || candidate}: ${view.reason}`;
    }
  }
  const all = files.flatMap((file) => file.findings);
  const inspection = files.some((file) => file.tampered) || all.some(dangerousFinding) ? 'dangerous'
    : files.some(uninspectedCode) ? 'not-inspected'
      : all.some((finding) => finding.severity !== 'info' && !GAP_KINDS.has(finding.kind)) ? 'findings'
        : files.some((file) => file.coverage.state === 'inspected') ? 'clean' : 'no-model-format';
  return { name: model.name, runtime: model.runtime, root: model.root, digest, files, status, reason, inspection };
}
