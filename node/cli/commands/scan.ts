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
export function signatureTrustOptions(o: SignatureOpts): { key?: string; trustedRoot?: string; identity?: string; issuer?: string } {
  return Object.fromEntries(Object.entries({ key: o.signatureKey, trustedRoot: o.trustedRoot, identity: o.identity, issuer: o.issuer }).filter(([, v]) => v !== undefined));
}

const LEVEL: Record<string, string> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };

/** SARIF 2.1.0, for code-scanning dashboards: one result per finding and per flagged model. */
function sarif(r: ScanReport): unknown {
  const results: unknown[] = [];
  for (const m of r.models) {
    for (const f of m.files) {
      for (const x of f.findings) {
        results.push({ ruleId: x.kind, level: LEVEL[x.severity] ?? 'note', message: { text: `${m.name}: ${x.path ? `${x.path}: ` : ''}${x.detail}` }, locations: [{ physicalLocation: { artifactLocation: { uri: f.path } } }], properties: { severity: x.severity, sha256: f.sha256 } });
      }
      if (f.tampered) results.push({ ruleId: 'tampered', level: 'error', message: { text: `${m.name}: named sha256 ${f.tampered.claimed}, content ${f.tampered.actual}` }, locations: [{ physicalLocation: { artifactLocation: { uri: f.path } } }] });
    }
    if (m.signature?.pinned && !m.signature.verification.verified) {
      results.push({ ruleId: 'signature-invalid', level: 'error', message: { text: `${m.name}: model signature does not verify: ${m.signature.verification.problems.slice(0, 3).map((p) => p.detail).join('; ')}` }, locations: [{ physicalLocation: { artifactLocation: { uri: m.signature.path } } }] });
    }
    if (m.status !== 'ok' && m.status !== 'unknown') {
      results.push({ ruleId: `view-${m.status}`, level: m.status === 'flagged' ? 'error' : 'warning', message: { text: `${m.name}: ${m.reason}` }, locations: [{ physicalLocation: { artifactLocation: { uri: m.files[0]?.path ?? m.root } } }], properties: { digest: `sha256:${m.digest}` } });
    }
  }
  const rules = [...new Set(results.map((x) => (x as { ruleId: string }).ruleId))].map((id) => ({ id, shortDescription: { text: id } }));
  return { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: [{ tool: { driver: { name: 'chorus', version: VERSION, informationUri: 'https://chorus.dev', rules } }, results }] };
}

/** One line on a model's signature: who signed it, and whether that was verified against what the user pinned. */
function signatureLine(sig: NonNullable<ScanReport['models'][number]['signature']>): string {
  const v = sig.verification;
  const who = clean(v.signer.identity !== undefined ? `${v.signer.identity}${v.signer.issuer ? ` (${v.signer.issuer})` : ''}` : v.signer.publicKeyFingerprint !== undefined ? `key sha256:${v.signer.publicKeyFingerprint.slice(0, 16)}…` : v.signer.keyHint !== undefined ? `key hint ${v.signer.keyHint.slice(0, 16)}…` : 'an unnamed signer');
  if (!sig.pinned) return `signature: ${clean(sig.path)}, ${v.method}, signer claimed ${who}: NOT VERIFIED (pin --signature-key or --trusted-root to verify)${v.problems.some((p) => p.code.startsWith('file-')) ? `; ${clean(v.problems.filter((p) => p.code.startsWith('file-')).slice(0, 3).map((p) => p.detail).join('; '))}` : ''}`;
  if (v.verified) return `signature: VERIFIED, ${v.method}, signed by ${who}, ${v.files.length} file(s) match`;
  return `signature: DOES NOT VERIFY (${clean(sig.path)}): ${clean(v.problems.slice(0, 3).map((p) => `${p.code}: ${p.detail}`).join('; '))}`;
}

function table(r: ScanReport): string {
  const lines: string[] = [];
  for (const root of r.roots) if (root.runtime !== 'path') lines.push(`${root.found ? 'found  ' : 'absent '} ${root.runtime.padEnd(11)} ${root.path} (${root.source})${root.found ? `: ${root.models} model(s)` : ''}`);
  if (lines.length > 0) lines.push('');
  if (r.models.length === 0) lines.push('no model files found');
  for (const m of r.models) {
    const mark = m.inspection === 'dangerous' ? 'DANGEROUS' : m.inspection === 'not-inspected' && m.status !== 'flagged' ? 'UNREAD' : m.status.toUpperCase();
    lines.push(`${mark.padEnd(9)}  ${clean(m.name)}  (${m.runtime}, ${m.digest === '' ? 'not hashed: unreadable' : `sha256:${m.digest.slice(0, 16)}…`})`);
    lines.push(`           ${clean(m.reason)}`);
    if (m.signature !== undefined) lines.push(`           ${signatureLine(m.signature)}`);
    for (const f of m.files) {
      if (f.format === 'unknown' && f.findings.length === 0) continue;
      const from = f.digestFrom === 'name' ? ' (digest from its name; --verify re-hashes)' : '';
      const cover = f.coverage.state === 'inspected' ? 'inspected' : `${f.coverage.state.toUpperCase()}${f.coverage.codeCapable ? ' (this format can carry code)' : ''}`;
      lines.push(`           ${clean(f.name)}: ${f.format}, ${cover}, ${f.size} bytes, ${f.sha256 === '' ? 'not hashed: unreadable' : `sha256:${f.sha256.slice(0, 16)}…`}${from}`);
      if (f.tampered) lines.push(`             TAMPERED: named sha256 ${f.tampered.claimed}, content ${f.tampered.actual}`);
      for (const x of f.findings.slice(0, 10)) lines.push(`             ${x.severity.toUpperCase()} ${x.kind}${x.path ? ` in ${clean(x.path)}` : ''}: ${clean(x.detail)}`);
      if (f.findings.length > 10) lines.push(`             … ${f.findings.length - 10} more (--json)`);
    }
  }
  for (const p of r.problems.slice(0, 20)) lines.push(`problem: ${clean(p.path)}: ${clean(p.message)}`);
  if (r.problems.length > 20) lines.push(`… ${r.problems.length - 20} more problem(s) (--json)`);
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
          const done = await scanAndKeep(home.root, { paths, verify: opts.verify ?? false, client, suite: nativeSuite(), onBytes: (d, t) => bar.update(d, t), signatureTrust });
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
          for (const m of report.models) {
            for (const u of unsignedFiles(m)) cli.err(`chorus: not signed: ${clean(u.model)}: ${clean(u.file)}: ${clean(u.why)}`);
            for (const st of [...findingStatements(m, identity.did, now), ...signatureStatements(m, identity.did, now)]) {
              const envelope = signStatement(st, identity.secretKey);
              if (opts.dryRun) {
                cli.out(JSON.stringify(envelope));
                continue;
              }
              const d = await client.publish(envelope);
              if (d.outcome === 'accept') stored++;
              else if (d.code !== 'duplicate') {
                refused++;
                cli.err(`chorus: ${m.name}: ${d.code}: ${d.message ?? ''}`);
              }
            }
          }
          if (!opts.dryRun) cli.err(`attested: ${stored} stored${refused > 0 ? `, ${refused} refused` : ''}`);
        }
        if (scanFailed(report)) return EXIT.flagged;
        // Not everything could be read: no pass, whatever was found in the rest (the last scan stays).
        if (unread.length > 0) {
          cli.err(`chorus: not everything was read, so this scan passes nothing (exit ${EXIT.usage}; the last scan is kept):`);
          for (const u of unread.slice(0, 10)) cli.err(`  ${clean(u)}`);
          if (unread.length > 10) cli.err(`  … and ${unread.length - 10} more`);
          return EXIT.usage;
        }
        return EXIT.ok;
      });
    }));
}
