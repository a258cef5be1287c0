/**
 * Shared by the scan-review-*.test.ts files (a security review of node/scan): writes one
 * model's files to a temp dir, scans it the way `chorus check` / `chorus scan --attest` do
 * (no cache, --verify) and returns the gate's denials and the files it would sign clean.
 * With SCAN_REVIEW_DUMP=DIR the files are also written there, so a real loader can be run
 * on them by hand.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { localClient } from '../../node/client/local-client.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import { findingStatements } from '../../node/scan/attest-findings.js';
import { inspectionDenials } from '../../node/scan/gate.js';
import { scan, type ScanReport } from '../../node/scan/scan.js';
import { tempDir } from '../support/temp-dir.js';

export interface Verdict {
  readonly report: ScanReport;
  /** What `chorus check` prints as reasons to deny (empty: allowed). */
  readonly denials: string[];
  /** Files `chorus scan --attest` would sign a `clean` payload for. */
  readonly signedClean: string[];
}

export async function judge(id: string, files: Record<string, Buffer>): Promise<Verdict> {
  await using dir = await tempDir('chorus-scan-review-');
  const home = resolveHome({}, join(dir.path, 'home'));
  await initHome(home);
  const node = await LocalNode.open(home);
  try {
    const root = join(dir.path, 'model', id);
    for (const [name, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(root, name)), { recursive: true });
      await writeFile(join(root, name), bytes);
      const dump = process.env.SCAN_REVIEW_DUMP;
      if (dump) {
        await mkdir(dirname(join(dump, id, name)), { recursive: true });
        await writeFile(join(dump, id, name), bytes);
      }
    }
    const report = await scan({ paths: [root], verify: true, cache: undefined, client: localClient(node), suite: nativeSuite() });
    const signedClean = report.models.flatMap((m) => findingStatements(m, node.identity.did, new Date())
      .filter((s) => (s.predicate as { finding?: { kind?: string } }).finding?.kind === 'clean')
      .map((s) => s.subject[0]?.name ?? '?'));
    return { report, denials: inspectionDenials(report.models), signedClean };
  } finally {
    await node.close();
  }
}

/** A compact description of what the scan saw, for assertion messages. */
export function seen(v: Verdict): string {
  return JSON.stringify(v.report.models.map((m) => ({ inspection: m.inspection, files: m.files.map((f) => ({ name: f.name, format: f.format, coverage: f.coverage.state, findings: f.findings.map((x) => `${x.severity} ${x.kind} ${x.path ?? ''}: ${x.detail}`) })) })));
}
