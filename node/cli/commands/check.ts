import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import { HashCache } from '../../scan/hash-cache.js';
import { scan } from '../../scan/scan.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function checkCommand(cli: Cli): Command {
  return new Command('check')
    .description('the gate before loading a model: allow (exit 0) or deny (exit 3), with the reasons (config check.mode: deny-flagged or allowlist)')
    .argument('<path|digest>', 'a model file or directory (hashed and inspected), or a digest (sha256:<hex>)')
    .option('--json', 'print the decision as JSON')
    .addHelpText('after', '\nExample: chorus check ./model.gguf && llama-server -m ./model.gguf\nExit status: 0 allow, 3 deny, 2 bad input.')
    .action(action(async (target: string, opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        let digest: string;
        let inspection: { dangerous: boolean; detail: string } | undefined;
        let name = target;
        if (existsSync(target)) {
          // A file or directory: hashed (through the hash cache) and inspected, never executed.
          const cache = await HashCache.open(join(cli.home().root, 'scan-cache.json'));
          const r = await scan({ paths: [target], verify: true, cache, client, suite: nativeSuite() });
          await cache.save().catch(() => undefined);
          const m = r.models[0];
          if (m === undefined || m.digest === '') {
            cli.err(`chorus: ${target}: nothing to check (${r.problems[0]?.message ?? 'no readable file'})`);
            return EXIT.usage;
          }
          digest = m.digest;
          name = m.name;
          const bad = m.files.flatMap((f) => [
            ...(f.tampered ? [`${f.name}: content does not match its name`] : []),
            ...f.findings.filter((x) => x.severity === 'critical' || x.severity === 'high').map((x) => `${f.name}: ${x.kind}${x.path ? ` in ${x.path}` : ''}: ${x.detail}`),
          ]);
          inspection = { dangerous: bad.length > 0, detail: bad.slice(0, 5).join('; ') };
        } else {
          digest = parseDigest(target);
        }
        const result = await client.check(digest);
        if (inspection?.dangerous) {
          result.allow = false;
          result.reasons.push(`inspection: ${inspection.detail}`);
        }
        if (opts.json) cli.json({ ...result, target: name });
        else {
          cli.out(`${result.allow ? 'ALLOW' : 'DENY'}  ${name}  (${result.digest}, ${result.mode})`);
          for (const r of result.reasons) cli.out(`  ${r}`);
        }
        return result.allow ? EXIT.ok : EXIT.flagged;
      });
    }));
}
