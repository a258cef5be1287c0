import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import { hashPath } from '../../hash/hash-path.js';
import type { Finding } from '../../scan/inspect/index.js';
import { dangerousFinding, scan, uninspectedCode } from '../../scan/scan.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { clean } from '../format.js';
import { progressBar } from '../progress.js';

/**
 * What inspection finds that the gate refuses: anything critical or high, and in pickles an
 * import that is not on the allow-list (Python runs what it imports). What was not read is
 * judged by the file's coverage (below), not by these findings.
 */
function refuses(x: Finding): boolean {
  if (x.kind === 'suspicious-import' || x.kind === 'unresolved-import') return true;
  return dangerousFinding(x);
}

export function checkCommand(cli: Cli): Command {
  return new Command('check')
    .description('the gate before loading a model: allow (exit 0) or deny (exit 3), with the reasons (config check.mode: deny-flagged or allowlist)')
    .argument('<path|digest>', 'a model file or directory (hashed and inspected, every file), or a digest (sha256:<hex>)')
    .option('--json', 'print the decision as JSON')
    .addHelpText('after', '\nA directory is one model: its digest is what `chorus hash DIR` prints (and what an approval names);\nevery file in it is hashed, inspected and asked about too, and any of them can deny.\nA file whose format can carry code (pickles, archives, HDF5, SavedModel, GGUF templates…) and that\nwas not inspected in full (a format or part not read, a limit hit) is denied: unread is not clean.\nExample: chorus check ./model.gguf && llama-server -m ./model.gguf\nExit status: 0 allow, 3 deny, 2 bad input.')
    .action(action(async (target: string, opts: { json?: boolean }) => {
      const isPath = existsSync(target);
      if (!isPath && !/^(sha256:)?[0-9a-fA-F]{64}$/.test(target)) throw new ChorusError('bad_input', `${clean(target)}: no such file or directory, and not a sha256 digest`);
      return cli.withClient(async (client) => {
        let digest: string;
        const denials: string[] = [];
        if (isPath) {
          const bar = progressBar('hashing');
          try {
            // Fresh hashes: the gate does not trust a cache or a blob's name.
            const r = await scan({ paths: [target], verify: true, cache: undefined, client, suite: nativeSuite(), onBytes: (d, t) => bar.update(d, t) });
            if (r.models.length === 0) throw new ChorusError('bad_input', `${clean(target)}: nothing to check (${clean(r.problems[0]?.message ?? 'no readable file')})`);
            digest = statSync(target).isDirectory() ? (await hashPath(target, nativeSuite())).digest : (r.models[0]?.digest ?? '');
            for (const m of r.models) {
              if (m.status === 'flagged') denials.push(`${clean(m.name)}: flagged in your view: ${clean(m.reason)}`);
              for (const f of m.files) {
                if (f.tampered) denials.push(`${clean(f.name)}: content does not match its name`);
                for (const x of f.findings.filter(refuses).slice(0, 5)) denials.push(`inspection: ${clean(f.name)}: ${x.severity} ${x.kind}${x.path ? ` in ${clean(x.path)}` : ''}: ${clean(x.detail)}`);
                if (uninspectedCode(f)) {
                  const what = f.format === 'unknown' ? 'a file of no format this scanner reads, named like a model a code-running loader opens' : `${f.format}, a format that can carry code`;
                  denials.push(`inspection: ${clean(f.name)}: ${f.coverage.state}: ${what}: ${clean(f.coverage.reasons.slice(0, 3).join('; '))}`);
                }
              }
            }
          } finally {
            bar.stop();
          }
        } else {
          digest = parseDigest(target);
        }
        const result = await client.check(digest);
        if (denials.length > 0) {
          result.allow = false;
          result.reasons.push(...denials);
        }
        if (opts.json) cli.json({ ...result, target });
        else {
          cli.out(`${result.allow ? 'ALLOW' : 'DENY'}  ${clean(target)}  (${result.digest}, ${result.mode})`);
          for (const r of result.reasons) cli.out(`  ${clean(r)}`);
        }
        return result.allow ? EXIT.ok : EXIT.flagged;
      });
    }));
}
