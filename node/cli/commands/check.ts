import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import { hashPath } from '../../hash/hash-path.js';
import { inspectionDenials } from '../../scan/gate.js';
import { scan } from '../../scan/scan.js';
import { action, type Cli } from '../context.js';
import { signatureTrustOptions, type SignatureOpts } from './scan.js';
import { trustOf } from './verify-signature.js';
import { EXIT } from '../exit-codes.js';
import { clean } from '../format.js';
import { progressBar } from '../progress.js';

export function checkCommand(cli: Cli): Command {
  return new Command('check')
    .description('the gate before loading a model: allow (exit 0) or deny (exit 3), with the reasons (config check.mode: deny-flagged or allowlist)')
    .argument('<path|digest>', 'a model file or directory (hashed and inspected, every file), or a digest (sha256:<hex>)')
    .option('--json', 'print the decision as JSON')
    .option('--signature-key <pem>', 'a model signature (model.sig) beside the model must verify against this public key')
    .option('--trusted-root <file>', 'a keyless model signature must verify against this Sigstore trusted_root.json (with --identity and --issuer)')
    .option('--identity <id>', 'with --trusted-root: the certificate identity the signature must have')
    .option('--issuer <url>', 'with --trusted-root: the OIDC issuer that identity must come from')
    .addHelpText('after', '\nA directory is one model: its digest is what `chorus hash DIR` prints (and what an approval names);\nevery file in it is hashed, inspected and asked about too, and any of them can deny.\nA file whose format can carry code (pickles, archives, HDF5, SavedModel, GGUF templates…) and that\nwas not inspected in full (a format or part not read, a limit hit) is denied: unread is not clean.\nExample: chorus check ./model.gguf && llama-server -m ./model.gguf\nExit status: 0 allow, 3 deny, 2 bad input, 4 no such file.')
    .action(action(async (target: string, opts: { json?: boolean } & SignatureOpts) => {
      const isPath = existsSync(target);
      if (!isPath && !/^(sha256:)?[0-9a-fA-F]{64}$/.test(target)) {
        // Meant as a digest but malformed: bad input; anything else names a file that is not there.
        if (/^sha256:/i.test(target) || /^[0-9a-fA-F]{8,}$/.test(target)) throw new ChorusError('bad_input', `${clean(target)}: not a sha256 digest (sha256: and 64 hex characters)`);
        throw new ChorusError('not_found', `${clean(target)}: no such file or directory, and not a sha256 digest`);
      }
      const signatureTrust = await trustOf(signatureTrustOptions(opts));
      return cli.withClient(async (client) => {
        let digest: string;
        const denials: string[] = [];
        if (isPath) {
          const bar = progressBar('hashing');
          try {
            // Fresh hashes: the gate does not trust a cache or a blob's name.
            const r = await scan({ paths: [target], verify: true, cache: undefined, client, suite: nativeSuite(), onBytes: (d, t) => bar.update(d, t), signatureTrust });
            if (signatureTrust !== undefined && !r.models.some((m) => m.signature !== undefined)) denials.push(`signature: ${clean(target)}: a signature was required (--signature-key/--trusted-root) and there is no model.sig beside the model`);
            if (r.models.length === 0) throw new ChorusError('bad_input', `${clean(target)}: nothing to check (${clean(r.problems[0]?.message ?? 'no readable file')})`);
            digest = statSync(target).isDirectory() ? (await hashPath(target, nativeSuite())).digest : (r.models[0]?.digest ?? '');
            // The checked digest's own standing comes from the node's answer below: said once.
            const checked = digest.replace(/^sha256:/, '');
            for (const m of r.models) if (m.status === 'flagged' && m.digest !== checked) denials.push(`${clean(m.name)}: flagged in your view: ${clean(m.reason)}`);
            denials.push(...inspectionDenials(r.models, clean));
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
