import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../home/files.js';
import { hashFile } from '../hash/hash-path.js';

/** Entries kept at most (a file's entry is ~150 bytes of JSON). */
const MAX_ENTRIES = 200_000;

interface Entry {
  readonly size: number;
  readonly mtimeMs: number;
  /** Change time (ns, as a string): unlike mtime, no user can set it back. */
  readonly ctimeNs: string;
  readonly sha256: string;
}

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
      const raw = JSON.parse(await readFile(path, 'utf8')) as { version?: unknown; entries?: Record<string, Entry> };
      if (raw.version === 1 && raw.entries && typeof raw.entries === 'object') {
        for (const [k, e] of Object.entries(raw.entries)) {
          if (typeof e?.size === 'number' && typeof e.mtimeMs === 'number' && typeof e.ctimeNs === 'string' && /^[0-9a-f]{64}$/.test(String(e.sha256))) c.entries.set(k, e);
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
    if (hit && hit.size === size && hit.mtimeMs === mtimeMs && hit.ctimeNs === ctimeNs) return { sha256: hit.sha256, cached: true };
    const sha256 = await hashFile(path, onBytes);
    // Changed while being read: do not remember a digest of bytes that may be gone.
    const after = await stat(path, { bigint: true });
    if (Number(after.size) === size && Number(after.mtimeNs / 1_000_000n) === mtimeMs && String(after.ctimeNs) === ctimeNs) {
      this.entries.delete(key);
      this.entries.set(key, { size, mtimeMs, ctimeNs, sha256 });
      if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.dirty = true;
    }
    return { sha256, cached: false };
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeFileAtomic(this.path, JSON.stringify({ version: 1, entries: Object.fromEntries(this.entries) }));
    this.dirty = false;
  }
}
