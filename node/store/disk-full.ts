import { statfs } from 'node:fs/promises';

/** While the store is full, the free space is checked this often (and at every write). */
export const FULL_POLL_MS = 1_000;
/**
 * The store is reopened once the file system has this much free space: room for LevelDB
 * to replay its log into a table and write a new manifest (the write buffer is 4 MiB).
 */
export const REOPEN_FREE_BYTES = 8 * 2 ** 20;
/** A reopen that did not hold (the next write ran out of space again) waits up to this long before the next. */
export const REOPEN_BACKOFF_MAX_MS = 30_000;

/** Whether an error from a write is the file system (or a quota) running out of space. */
export function isNoSpace(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x !== undefined && x !== null && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const { code, message } = x as { code?: unknown; message?: unknown };
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (typeof message === 'string' && /ENOSPC|EDQUOT|No space left|quota exceeded/i.test(message)) return true;
  }
  return false;
}

/** Bytes an unprivileged process may still write on the file system holding `path` (0 when it cannot tell). */
export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path).catch(() => undefined);
  return s === undefined ? 0 : s.bavail * s.bsize;
}
