import { Command, Option } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { signStatement } from '../../../src/statement/sign.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import { loadIdentity } from '../../home/identity.js';
import { findingStatements, signatureStatements, unsignedFiles } from '../../scan/attest-findings.js';
import { trustOf } from './verify-signature.js';
import { scanAndKeep } from '../../scan/run.js';
import { scanFailed, type ScanReport } from '../../scan/scan.js';
import { VERSION } from '../../version.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress.js';
import { clean } from '../format.js';

/** The options that pin what model signatures are verified against. */
export interface SignatureOpts {
  signatureKey?: string;
  trustedRoot?: string;
  identity?: string;
  issuer?: string;
}

/** The scan/check options as verify-signature's (--signature-key is its --key). */
export function signatureTrustOptions(opts: SignatureOpts): { key?: string; trustedRoot?: string; identity?: string; issuer?: string } {
  return Object.fromEntries(Object.entries({ key: opts.signatureKey, trustedRoot: opts.trustedRoot, identity: opts.identity, issuer: opts.issuer }).filter(([, value]) => value !== undefined));
}

const LEVEL: Record<string, string> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };

/** SARIF 2.1.0, for code-scanning dashboards: one result per finding and per flagged model. */
function sarif(report: ScanReport): unknown {
  const results: unknown[] = [];
  for (const model of report.models) {
    for (const file of model.files) {
      for (const finding of file.findings) {
        results.push({ ruleId: finding.kind, level: LEVEL[finding.severity] ?? 'note', message: { text: `${model.name}: ${finding.path ? `${finding.path}: ` : ''}${finding.detail}` }, locations: [{ physicalLocation: { artifactLocation: { uri: file.path } } }], properties: { severity: finding.severity, sha256: file.sha256 } });
      }
      if (file.tampered) results.push({ ruleId: 'tampered', level: 'error', message: { text: `${model.name}: named sha256 ${file.tampered.claimed}, content ${file.tampered.actual}` }, locations: [{ physicalLocation: { artifactLocation: { uri: file.path } } }] });
    }
    if (model.signature?.pinned && !model.signature.verification.verified) {
      results.push({ ruleId: 'signature-invalid', level: 'error', message: { text: `${model.name}: model signature does not verify: ${model.signature.verification.problems.slice(0, 3).map((problem) => problem.detail).join('; ')}` }, locations: [{ physicalLocation: { artifactLocation: { uri: model.signature.path } } }] });
    }
    if (model.status !== 'ok' && model.status !== 'unknown') {
      results.push({ ruleId: `view-${model.status}`, level: model.status === 'flagged' ? 'error' : 'warning', message: { text: `${model.name}: ${model.reason}` }, locations: [{ physicalLocation: { artifactLocation: { uri: model.files[0]?.path ?? model.root } } }], properties: { digest: `sha256:${model.digest}` } });
    }
  }
  const rules = [...new Set(results.map((result) => (result as { ruleId: string }).ruleId))].map((id) => ({ id, shortDescription: { text: id } }));
  return { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: [{ tool: { driver: { name: 'chorus', version: VERSION, informationUri: 'https://chorus.dev', rules } }, results }] };
}

/** One line on a model's signature: who signed it, and whether that was verified against what the user pinned. */
function signatureLine(sig: NonNullable<ScanReport['models'][number]['signature']>): string {
  const verification = sig.verification;
  const who = clean(verification.signer.identity !== undefined ? `${verification.signer.identity}${verification.signer.issuer ? ` (${verification.signer.issuer})` : ''}` : verification.signer.publicKeyFingerprint !== undefined ? `key sha256:${verification.signer.publicKeyFingerprint.slice(0, 16)}…` : verification.signer.keyHint !== undefined ? `key hint ${verification.signer.keyHint.slice(0, 16)}…` : 'an unnamed signer');
  if (!sig.pinned) return `signature: ${clean(sig.path)}, ${verification.method}, signer claimed ${who}: NOT VERIFIED (pin --signature-key or --trusted-root to verify)${verification.problems.some((problem) => problem.code.startsWith('file-')) ? `; ${clean(verification.problems.filter((problem) => problem.code.startsWith('file-')).slice(0, 3).map((problem) => problem.detail).join('; '))}` : ''}`;
  if (verification.verified) return `signature: VERIFIED, ${verification.method}, signed by ${who}, ${verification.files.length} file(s) match`;
  return `signature: DOES NOT VERIFY (${clean(sig.path)}): ${clean(verification.problems.slice(0, 3).map((problem) => `${problem.code}: ${problem.detail}`).join('; '))}`;
}

function table(report: ScanReport): string {
  const lines: string[] = [];
  for (const root of report.roots) if (root.runtime !== 'path') lines.push(`${root.found ? 'found  ' : 'absent '} ${root.runtime.padEnd(11)} ${root.path} (${root.source})${root.found ? `: ${root.models} model(s)` : ''}`);
  if (lines.length > 0) lines.push('');
  if (report.models.length === 0) lines.push('no model files found');
  for (const model of report.models) {
    const mark = model.inspection === 'dangerous' ? 'DANGEROUS' : model.inspection === 'not-inspected' && model.status !== 'flagged' ? 'UNREAD' : model.status.toUpperCase();
    lines.push(`${mark.padEnd(9)}  ${clean(model.name)}  (${model.runtime}, ${model.digest === '' ? 'not hashed: unreadable' : `sha256:${model.digest.slice(0, 16)}…`})`);
    lines.push(`           ${clean(model.reason)}`);
    if (model.signature !== undefined) lines.push(`           ${signatureLine(model.signature)}`);
    for (const file of model.files) {
      if (file.format === 'unknown' && file.findings.length === 0) continue;
      const from = file.digestFrom === 'name' ? ' (digest from its name; --verify re-hashes)' : '';
      const cover = file.coverage.state === 'inspected' ? 'inspected' : `${file.coverage.state.toUpperCase()}${file.coverage.codeCapable ? ' (this format can carry code)' : ''}`;
      lines.push(`           ${clean(file.name)}: ${file.format}, ${cover}, ${file.size} bytes, ${file.sha256 === '' ? 'not hashed: unreadable' : `sha256:${file.sha256.slice(0, 16)}…`}${from}`);
      if (file.tampered) lines.push(`             TAMPERED: named sha256 ${file.tampered.claimed}, content ${file.tampered.actual}`);
      for (const finding of file.findings.slice(0, 10)) lines.push(`             ${finding.severity.toUpperCase()} ${finding.kind}${finding.path ? ` in ${clean(finding.path)}` : ''}: ${clean(finding.detail)}`);
      if (file.findings.length > 10) lines.push(`             … ${file.findings.length - 10} more (--json)`);
    }
  }
  for (const problem of report.problems.slice(0, 20)) lines.push(`problem: ${clean(problem.path)}: ${clean(problem.message)}`);
  if (report.problems.length > 20) lines.push(`… ${report.problems.length - 20} more problem(s) (--json)`);
  return lines.join('\n');
}

export function scanCommand(cli: Cli): Command {
  return new Command('scan')
    .description('find model files (Ollama, Hugging Face, LM Studio, llama.cpp caches, or the paths given), inspect them statically, and show their standing in your view')
    .argument('[paths...]', 'files or directories to scan (default: the places local runtimes keep models)')
    .option('--verify', 're-hash files a runtime names by their sha256, and report any whose content does not match (tampered)')
    .option('--json', 'print the report as JSON (same as --format json)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'))
    .option('--attest', 'sign what inspection found as attestations (payload, license, lineage) and publish them through the node')
    .option('--dry-run', 'with --attest: print the signed envelopes to stdout (one JSON line each, what chorus import reads), publish nothing; the report then goes to stderr')
    .option('--signature-key <pem>', 'verify model signatures (OpenSSF model signing, model.sig) against this public key')
    .option('--trusted-root <file>', 'verify keyless model signatures against this Sigstore trusted_root.json (with --identity and --issuer)')
    .option('--identity <id>', 'with --trusted-root: the certificate identity a signature must have')
    .option('--issuer <url>', 'with --trusted-root: the OIDC issuer that identity must come from')
    .addHelpText('after', '\nExit status: 3 when a model is flagged in your view, inspection finds it dangerous, or a file whose format can carry code was not inspected in full (UNREAD); 0 otherwise.\nWith --attest a file is signed clean only when every part of it was inspected; a file not read in full gets no payload finding.\nNothing is ever unpickled or executed: inspection reads headers and opcodes only.')
    .action(action(async (paths: string[], opts: { verify?: boolean; json?: boolean; format: string; attest?: boolean; dryRun?: boolean } & SignatureOpts) => {
      if (opts.dryRun === true && opts.attest !== true) throw new ChorusError('bad_input', '--dry-run goes with --attest (it prints the envelopes --attest would publish); a scan alone publishes nothing');
      const format = opts.json ? 'json' : opts.format;
      const signatureTrust = await trustOf(signatureTrustOptions(opts));
      const home = cli.home();
      return cli.withClient(async (client) => {
        const bar = progressBar('hashing');
        let report: ScanReport;
        let unread: string[];
        try {
          const done = await scanAndKeep(home.root, { paths, verify: opts.verify ?? false, client, suite: nativeSuite(), onBytes: (hashed, total) => bar.update(hashed, total), signatureTrust });
          report = done.report;
          unread = done.unread;
          if (done.notKept !== undefined && unread.length === 0) cli.err(`chorus: this scan was not kept for the web view's Local models: ${done.notKept.message}`);
        } finally {
          bar.stop();
        }
        // The data goes to stdout: the report, or with --attest --dry-run the envelopes (and the report to stderr).
        const dry = opts.attest === true && opts.dryRun === true;
        const text = format === 'json' ? JSON.stringify(report, null, 2) : format === 'sarif' ? JSON.stringify(sarif(report), null, 2) : table(report);
        if (dry) cli.err(text);
        else if (format === 'json') cli.json(report);
        else if (format === 'sarif') cli.json(sarif(report));
        else cli.out(text);
        if (opts.attest) {
          const identity = await loadIdentity(home.key);
          const now = new Date();
          let stored = 0;
          let refused = 0;
          for (const model of report.models) {
            for (const unsigned of unsignedFiles(model)) cli.err(`chorus: not signed: ${clean(unsigned.model)}: ${clean(unsigned.file)}: ${clean(unsigned.why)}`);
            for (const st of [...findingStatements(model, identity.did, now), ...signatureStatements(model, identity.did, now)]) {
              const envelope = signStatement(st, identity.secretKey);
              if (opts.dryRun) {
                cli.out(JSON.stringify(envelope));
                continue;
              }
              const decision = await client.publish(envelope);
              if (decision.outcome === 'accept') stored++;
              else if (decision.code !== 'duplicate') {
                refused++;
                cli.err(`chorus: ${model.name}: ${decision.code}: ${decision.message ?? ''}`);
              }
            }
          }
          if (!opts.dryRun) cli.err(`attested: ${stored} stored${refused > 0 ? `, ${refused} refused` : ''}`);
        }
        if (scanFailed(report)) return EXIT.flagged;
        // Not everything could be read: no pass, whatever was found in the rest (the last scan stays).
        if (unread.length > 0) {
          cli.err(`chorus: not everything was read, so this scan passes nothing (exit ${EXIT.usage}; the last scan is kept):`);
          for (const part of unread.slice(0, 10)) cli.err(`  ${clean(part)}`);
          if (unread.length > 10) cli.err(`  … and ${unread.length - 10} more`);
          return EXIT.usage;
        }
        return EXIT.ok;
      });
    }));
}
