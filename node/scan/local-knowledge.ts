import { stat } from 'node:fs/promises';
import { lastScanFile, readLastScan, type LastScan } from './last-scan.js';

/** What this machine's own inspection knows about a digest (issue 22): local, unsigned unless attested. */
export interface LocalKnowledge {
  /** When the scan that saw it ran. */
  readonly scannedAt: string;
  readonly label: string;
  models: {
    name: string;
    runtime: string;
    /** Where the file (or the model's directory) lives on this machine. */
    path: string;
    inspection: 'dangerous' | 'not-inspected' | 'findings' | 'no-model-format' | 'clean';
    findings: { kind: string; severity: string; detail: string; path?: string }[];
    findingsTotal: number;
  }[];
}

/**
 * The last `chorus scan` of this machine, read once per change of its file (its mtime is
 * looked at at most once a second), indexed by model digest and file sha256.
 */
export class LocalScanIndex {
  private cache: { mtimeMs: number; byDigest: Map<string, LastScan['report']['models'][number][]>; at: string } | undefined;
  /** When the file was last looked at: no scan file is remembered for a second too (a stat per view otherwise). */
  private checkedAt = -Infinity;

  constructor(private readonly dataDir: string) {}

  private async load(): Promise<typeof this.cache> {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return this.cache;
    this.checkedAt = now;
    const mtimeMs = await stat(lastScanFile(this.dataDir)).then((stats) => stats.mtimeMs, () => -1);
    if (mtimeMs < 0) return (this.cache = undefined);
    if (this.cache?.mtimeMs === mtimeMs) return this.cache;
    const last = await readLastScan(this.dataDir);
    if (last === undefined) return (this.cache = undefined);
    const byDigest = new Map<string, LastScan['report']['models'][number][]>();
    const add = (digest: string, model: LastScan['report']['models'][number]): void => {
      const list = byDigest.get(digest) ?? [];
      if (!list.includes(model)) list.push(model);
      byDigest.set(digest, list);
    };
    for (const model of last.report.models) {
      add(model.digest, model);
      for (const file of model.files) add(file.sha256, model);
    }
    return (this.cache = { mtimeMs, byDigest, at: last.at });
  }

  /** What the last scan of this machine found about `digest` (hex), or undefined when it did not see it. */
  async about(digest: string): Promise<LocalKnowledge | undefined> {
    const cache = await this.load();
    const models = cache?.byDigest.get(digest);
    if (cache === undefined || models === undefined) return undefined;
    return {
      scannedAt: cache.at,
      label: 'this machine\'s own inspection (chorus scan): local and unsigned, not part of the network\'s view unless attested (chorus scan --attest)',
      models: models.slice(0, 10).map((model) => {
        const findings = model.files.flatMap((file) => file.findings.map((finding) => ({ kind: finding.kind, severity: finding.severity, detail: finding.detail, ...(finding.path ? { path: `${file.name}: ${finding.path}` } : { path: file.name }) })));
        const order: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
        findings.sort((a, b) => (order[a.severity] ?? 5) - (order[b.severity] ?? 5));
        return { name: model.name, runtime: model.runtime, path: model.files.length === 1 ? model.files[0]!.path : model.root, inspection: model.inspection, findings: findings.slice(0, 10), findingsTotal: findings.length };
      }),
    };
  }
}
