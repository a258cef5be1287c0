import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../home/files.js';
import type { ScanReport } from './scan.js';

/** The last `chorus scan` on this machine, as the web view's "Local models" page shows it. */
export interface LastScan {
  readonly at: string;
  /** The paths it was given (none: the places local runtimes keep models). */
  readonly paths: readonly string[];
  readonly report: ScanReport;
}

/** Kept next to the hash cache in the data dir. */
export const lastScanFile = (dataDir: string): string => join(dataDir, 'scan-last.json');

export async function saveLastScan(dataDir: string, scan: LastScan): Promise<void> {
  await writeFileAtomic(lastScanFile(dataDir), JSON.stringify(scan) + '\n');
}

/** The last scan, or undefined when there was none (or its file is damaged). */
export async function readLastScan(dataDir: string): Promise<LastScan | undefined> {
  try {
    const raw = JSON.parse(await readFile(lastScanFile(dataDir), 'utf8')) as Partial<LastScan>;
    if (typeof raw.at !== 'string' || !Array.isArray(raw.paths) || typeof raw.report !== 'object' || raw.report === null || !Array.isArray(raw.report.models)) return undefined;
    return raw as LastScan;
  } catch {
    return undefined;
  }
}
