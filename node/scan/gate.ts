import type { Finding } from './inspect/index.js';
import { dangerousFinding, uninspectedCode, type ScannedModel } from './scan.js';

/**
 * What inspection finds that the gate refuses: anything critical or high, and in pickles an
 * import that is not on the allow-list (Python runs what it imports). What was not read is
 * judged by the file's coverage, not by these findings.
 */
function refuses(x: Finding): boolean {
  if (x.kind === 'suspicious-import' || x.kind === 'unresolved-import') return true;
  return dangerousFinding(x);
}

/** Removes control characters before text from a file reaches a terminal. */
type Clean = (s: string) => string;

/**
 * Why the gate (`chorus check`, SPEC §15) refuses scanned models on inspection's account, one
 * line each: tampered content, a refused finding, or a file whose format can carry code and
 * that was not inspected in full. Empty: inspection has nothing against them. The view's
 * status is decided elsewhere.
 */
export function inspectionDenials(models: readonly ScannedModel[], clean: Clean = (s) => s): string[] {
  const out: string[] = [];
  for (const m of models) {
    // A signature checked against a key or root the user pinned, that does not hold: the model
    // is not what its signer signed (or not signed by whom the user expects).
    const sig = m.signature;
    if (sig?.pinned && !sig.verification.verified) {
      out.push(`signature: ${clean(m.name)}: ${clean(sig.path)} does not verify: ${clean(sig.verification.problems.slice(0, 3).map((p) => `${p.code}: ${p.detail}`).join('; '))}`);
    }
    for (const f of m.files) {
      if (f.tampered) out.push(`${clean(f.name)}: content does not match its name`);
      for (const x of f.findings.filter(refuses).slice(0, 5)) out.push(`inspection: ${clean(f.name)}: ${x.severity} ${x.kind}${x.path ? ` in ${clean(x.path)}` : ''}: ${clean(x.detail)}`);
      if (uninspectedCode(f)) {
        const what = f.format === 'unknown' ? 'a file of no format this scanner reads, named like a model a code-running loader opens' : `${f.format}, a format that can carry code`;
        out.push(`inspection: ${clean(f.name)}: ${f.coverage.state}: ${what}: ${clean(f.coverage.reasons.slice(0, 3).join('; '))}`);
      }
    }
  }
  return out;
}
