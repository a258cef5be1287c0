import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../home/files.js';
import { hashFile } from '../hash/hash-path.js';
import { VERSION } from '../version.js';
import { INSPECTOR_REVISION } from './inspect/constants.js';

/** Who judged a cached inspection: this chorus version and its inspectors' revision. */
const INSPECTOR = `${VERSION}+inspect.${INSPECTOR_REVISION}`;

/** Entries kept at most (a file's entry is ~150 bytes of JSON). */
const MAX_ENTRIES = 200_000;

interface Entry {
  readonly size: number;
  readonly mtimeMs: number;
  /** Change time (ns, as a string): unlike mtime, no user can set it back. */
  readonly ctimeNs: string;
  readonly sha256?: string;
  /** What static inspection found (kept when small): a rescan does not inspect again. */
  readonly inspection?: unknown;
}

/** An inspection result is remembered only up to this size (JSON). */
const MAX_INSPECTION_JSON = 8 * 1024;

/**
 * Digests of files already hashed, keyed by device and inode and trusted only while size,
 * modification time and change time are unchanged (the change time cannot be set back): a rescan of unchanged files reads no file bytes.
 * Kept in the data dir (`scan-cache.json`, written atomically, mode 0600); a damaged cache
 * is started afresh, never an error.
 */
export class HashCache {
  private entries = new Map<string, Entry>();
  private dirty = false;

  private constructor(private readonly path: string) {}

  static async open(path: string): Promise<HashCache> {
    const c = new HashCache(path);
    try {
      const raw = JSON.parse(await readFile(path, 'utf8')) as { version?: unknown; chorus?: unknown; entries?: Record<string, Entry> };
      if (raw.version === 1 && raw.entries && typeof raw.entries === 'object') {
        // Inspections by another version of chorus may judge differently: only digests are kept.
        const sameInspector = raw.chorus === INSPECTOR;
        for (const [k, e] of Object.entries(raw.entries)) {
          if (typeof e?.size !== 'number' || typeof e.mtimeMs !== 'number' || typeof e.ctimeNs !== 'string' || (e.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(String(e.sha256)))) continue;
          if (sameInspector || e.inspection === undefined) c.entries.set(k, e);
          else if (e.sha256 !== undefined) c.entries.set(k, { size: e.size, mtimeMs: e.mtimeMs, ctimeNs: e.ctimeNs, sha256: e.sha256 });
        }
      }
    } catch {
      // missing or damaged: start afresh
    }
    return c;
  }

  /**
   * The file's sha256: from the cache when device, inode, size and mtime match, else read
   * (reporting bytes as they go) and remembered.
   */
  async digest(path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; cached: boolean }> {
    const s = await stat(path, { bigint: true });
    const key = `${s.dev}:${s.ino}`;
    const size = Number(s.size);
    const mtimeMs = Number(s.mtimeNs / 1_000_000n);
    const ctimeNs = String(s.ctimeNs);
    const hit = this.entries.get(key);
    if (hit?.sha256 !== undefined && hit.size === size && hit.mtimeMs === mtimeMs && hit.ctimeNs === ctimeNs) return { sha256: hit.sha256, cached: true };
    const sha256 = await hashFile(path, onBytes);
    // Changed while being read: do not remember a digest of bytes that may be gone.
    const after = await stat(path, { bigint: true });
    if (Number(after.size) === size && Number(after.mtimeNs / 1_000_000n) === mtimeMs && String(after.ctimeNs) === ctimeNs) {
      this.entries.delete(key);
      this.entries.set(key, { size, mtimeMs, ctimeNs, sha256, ...(hit?.inspection !== undefined && hit.size === size && hit.mtimeMs === mtimeMs && hit.ctimeNs === ctimeNs ? { inspection: hit.inspection } : {}) });
      if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.dirty = true;
    }
    return { sha256, cached: false };
  }

  /** What inspection found in this file when it was last inspected unchanged, if remembered. */
  async inspection(path: string): Promise<unknown> {
    const { key, size, mtimeMs, ctimeNs } = await this.identify(path);
    const hit = this.entries.get(key);
    return hit && hit.size === size && hit.mtimeMs === mtimeMs && hit.ctimeNs === ctimeNs ? hit.inspection : undefined;
  }

  /** Remembers an inspection result for the file as it is now (when it is small). */
  async rememberInspection(path: string, inspection: unknown): Promise<void> {
    if (JSON.stringify(inspection).length > MAX_INSPECTION_JSON) return;
    const { key, size, mtimeMs, ctimeNs } = await this.identify(path);
    const hit = this.entries.get(key);
    const same = hit && hit.size === size && hit.mtimeMs === mtimeMs && hit.ctimeNs === ctimeNs;
    this.entries.delete(key);
    this.entries.set(key, { size, mtimeMs, ctimeNs, ...(same && hit.sha256 !== undefined ? { sha256: hit.sha256 } : {}), inspection });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.dirty = true;
  }

  private async identify(path: string): Promise<{ key: string; size: number; mtimeMs: number; ctimeNs: string }> {
    const s = await stat(path, { bigint: true });
    return { key: `${s.dev}:${s.ino}`, size: Number(s.size), mtimeMs: Number(s.mtimeNs / 1_000_000n), ctimeNs: String(s.ctimeNs) };
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeFileAtomic(this.path, JSON.stringify({ version: 1, chorus: INSPECTOR, entries: Object.fromEntries(this.entries) }));
    this.dirty = false;
  }
}
