import { join } from 'node:path';
import { HashCache } from './hash-cache.js';
import { saveLastScan } from './last-scan.js';
import { scan, unreadParts, type ScanOptions, type ScanReport } from './scan.js';

/**
 * A scan of this machine's model files as `chorus scan` and the web view's Rescan run it:
 * the data dir's hash cache opened and saved whatever happens, the scan, and, once it has
 * ended, the scan kept as the machine's last (the web view's Local models). A scan that
 * throws, or could not read all it was asked to (`unread`), keeps nothing: the last good one stays. Not keeping it (a data dir this user may
 * not write) fails nothing: `notKept` says why, for the caller to show.
 */
export async function scanAndKeep(dataDir: string, o: Omit<ScanOptions, 'cache'>): Promise<{ report: ScanReport; unread: string[]; notKept: Error | undefined }> {
  const cache = await HashCache.open(join(dataDir, 'scan-cache.json'));
  let report: ScanReport;
  try {
    report = await scan({ ...o, cache });
  } finally {
    await cache.save().catch(() => undefined);
  }
  // A scan that could not read everything it was asked to is not a good scan: the last one stays.
  const unread = unreadParts(report, o.paths.length > 0);
  if (unread.length > 0) return { report, unread, notKept: new Error(`${unread.length} part(s) could not be read, so the last scan stays`) };
  const notKept = await saveLastScan(dataDir, { at: new Date().toISOString(), paths: [...o.paths], report }).then(() => undefined, (e: unknown) => e as Error);
  return { report, unread, notKept };
}
