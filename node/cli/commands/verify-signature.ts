import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { DEFAULT_OMS_LIMITS, findModelSignature, readBounded, verifyModelSignature, type OmsTrust, type OmsVerification } from '../../scan/signature/oms.js';
import { loadOmsPublicKey, trustMaterialFrom } from '../../scan/signature/oms-crypto.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { clean } from '../format.js';

interface Opts {
  signature?: string;
  key?: string;
  trustedRoot?: string;
  identity?: string;
  issuer?: string;
  json?: boolean;
}

async function readTrustFile(path: string, what: string): Promise<Buffer> {
  const read = await readBounded(path, DEFAULT_OMS_LIMITS.maxTrustFileBytes);
  if ('bytes' in read) return read.bytes;
  throw new ChorusError('bad_input', `${what} ${clean(path)}: ${'tooLarge' in read ? `larger than ${DEFAULT_OMS_LIMITS.maxTrustFileBytes} bytes` : `cannot read it (${clean(read.error)})`}`);
}

/** The trust the options pin, checked before anything is verified: a bad key or root is bad input (scan and check use it too). */
export async function trustOf(opts: Pick<Opts, 'key' | 'trustedRoot' | 'identity' | 'issuer'>): Promise<OmsTrust | undefined> {
  if (opts.key !== undefined && opts.trustedRoot !== undefined) throw new ChorusError('bad_input', '--key and --trusted-root are exclusive: a signature is either key-based or certificate-based');
  if ((opts.identity !== undefined || opts.issuer !== undefined) && opts.trustedRoot === undefined) throw new ChorusError('bad_input', '--identity and --issuer go with --trusted-root (they name who a Sigstore certificate must belong to)');
  if (opts.key !== undefined) {
    const bytes = await readTrustFile(opts.key, '--key');
    const key = loadOmsPublicKey(bytes);
    if ('problem' in key) throw new ChorusError('bad_input', `--key ${clean(opts.key)}: ${clean(key.problem.detail)}`);
    return { publicKeyPem: bytes };
  }
  if (opts.trustedRoot !== undefined) {
    const material = trustMaterialFrom((await readTrustFile(opts.trustedRoot, '--trusted-root')).toString('utf8'));
    if ('problem' in material) throw new ChorusError('bad_input', `--trusted-root ${clean(opts.trustedRoot)}: ${clean(material.problem.detail)}`);
    return { trustedRootPath: opts.trustedRoot, ...(opts.identity !== undefined ? { identity: opts.identity } : {}), ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}) };
  }
  return undefined;
}

function signerLine(verification: OmsVerification): string {
  const how = verification.signatureVerified ? 'verified' : 'claimed, not verified';
  if (verification.method === 'certificate') {
    return `certificate for ${clean(verification.signer.identity ?? 'no identity')}, issuer ${clean(verification.signer.issuer ?? 'none')} (${how})`;
  }
  const fp = verification.signer.publicKeyFingerprint;
  const hint = verification.signer.keyHint;
  if (fp !== undefined) return `key ${fp}${hint !== undefined && hint === fp ? ' (the key hint in the signature names it)' : ''} (${how})`;
  return `key ${hint !== undefined ? `hint ${clean(hint)}` : '(no hint in the signature)'} (${how})`;
}

function printText(cli: Cli, path: string, signaturePath: string, verification: OmsVerification): void {
  cli.out(`${verification.verified ? 'VERIFIED' : 'NOT VERIFIED'}  ${clean(path)}  (OpenSSF model signature, ${verification.method === 'key' ? 'key-based' : 'Sigstore certificate'})`);
  cli.out(`  signature: ${clean(signaturePath)}`);
  cli.out(`  signer:    ${signerLine(verification)}`);
  if (verification.modelDigest !== undefined) cli.out(`  model:     ${verification.modelDigest}${verification.modelName !== undefined ? `  (${clean(verification.modelName)})` : ''}`);
  if (verification.files.length > 0) {
    const bad = verification.files.filter((file) => !file.ok).length;
    cli.out(`  files:     ${verification.files.length} listed, ${verification.files.length - bad} match${bad > 0 ? `, ${bad} do not` : ''}`);
  }
  if (verification.problems.some((problem) => problem.code === 'no-trust-material')) {
    cli.out(`  NOTE: no ${verification.method === 'key' ? 'public key (--key)' : 'trusted root (--trusted-root, with --identity and --issuer)'} was given, so nothing was verified; what is shown is what the signature claims`);
  }
  for (const problem of verification.problems.slice(0, 50)) cli.out(`  ${problem.code}: ${clean(problem.detail)}`);
  if (verification.problems.length > 50) cli.out(`  … ${verification.problems.length - 50} more problems (--json lists them all)`);
  for (const warning of verification.warnings) cli.out(`  warning: ${clean(warning)}`);
}

export function verifySignatureCommand(cli: Cli): Command {
  return new Command('verify-signature')
    .description('verify an OpenSSF model signing (OMS v1.0, model_signing) signature over a model directory, offline: VERIFIED (exit 0) or NOT VERIFIED (exit 3)')
    .argument('<path>', 'the model directory')
    .option('--signature <file>', 'the signature file (default: model.sig in the directory, else the one *.sig there that is an OMS signature)')
    .option('--key <pubkey.pem>', 'the signer\'s public key, for a key-based signature (PEM or DER)')
    .option('--trusted-root <file>', 'a Sigstore trusted_root.json you pin, for a certificate (keyless) signature')
    .option('--identity <id>', 'with --trusted-root: who must have signed (the certificate\'s email or URI, exactly)')
    .option('--issuer <url>', 'with --trusted-root: the OIDC issuer that must have vouched for the identity, exactly')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Every file the signature lists is hashed again (sha256) and compared; a file on disk that the
signature does not cover (other than its ignore_paths, git files and the signature itself) is
a problem too. Nothing is fetched: a Sigstore signature is checked against the trusted root you
give (the public-good one is targets/trusted_root.json in github.com/sigstore/root-signing),
including the certificate chain, the transparency log's inclusion proof and promise, and the
identity and issuer you name. Without --key or --trusted-root nothing counts as verified.
Example: chorus verify-signature ./model --key signer.pub && load ./model
Exit status: 0 verified, 3 not verified, 2 bad input, 4 no signature found.`)
    .action(action(async (path: string, opts: Opts) => {
      if (!existsSync(path) || !statSync(path).isDirectory()) throw new ChorusError('bad_input', `${clean(path)}: not a model directory`);
      const trust = await trustOf(opts);
      let signaturePath = opts.signature;
      if (signaturePath === undefined) {
        const found = await findModelSignature(path);
        if (found.error !== undefined) throw new ChorusError('bad_input', `${clean(path)}: cannot list it (${clean(found.error)})`);
        if (found.signaturePath === undefined) {
          const seen = found.candidates.map((candidate) => `${clean(candidate.path)}: ${candidate.kind}${candidate.detail ? ` (${clean(candidate.detail)})` : ''}`).join('; ');
          throw new ChorusError('not_found', `${clean(path)}: no OpenSSF model signature found (model.sig or *.sig)${seen ? `: ${seen}` : ''}; name it with --signature`);
        }
        signaturePath = found.signaturePath;
      } else if (!existsSync(signaturePath)) {
        throw new ChorusError('bad_input', `--signature ${clean(signaturePath)}: no such file`);
      }
      const verification = await verifyModelSignature({ modelDir: path, signaturePath, trust });
      if (opts.json) cli.json({ path, signaturePath, ...verification });
      else printText(cli, path, signaturePath, verification);
      return verification.verified ? EXIT.ok : EXIT.flagged;
    }));
}
