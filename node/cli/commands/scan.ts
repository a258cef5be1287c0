import { join } from 'node:path';
import { Command, Option } from 'commander';
import { signStatement } from '../../../src/statement/sign.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import { loadIdentity } from '../../home/identity.js';
import { findingStatements, unsignedFiles } from '../../scan/attest-findings.js';
import { HashCache } from '../../scan/hash-cache.js';
import { scan, scanFailed, type ScanReport } from '../../scan/scan.js';
import { VERSION } from '../../version.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress.js';
import { clean } from '../format.js';

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
    if (m.status !== 'ok' && m.status !== 'unknown') {
      results.push({ ruleId: `view-${m.status}`, level: m.status === 'flagged' ? 'error' : 'warning', message: { text: `${m.name}: ${m.reason}` }, locations: [{ physicalLocation: { artifactLocation: { uri: m.files[0]?.path ?? m.root } } }], properties: { digest: `sha256:${m.digest}` } });
    }
  }
  const rules = [...new Set(results.map((x) => (x as { ruleId: string }).ruleId))].map((id) => ({ id, shortDescription: { text: id } }));
  return { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: [{ tool: { driver: { name: 'chorus', version: VERSION, informationUri: 'https://chorus.dev', rules } }, results }] };
}

function table(r: ScanReport): string {
  const lines: string[] = [];
  for (const root of r.roots) if (root.runtime !== 'path') lines.push(`${root.found ? 'found  ' : 'absent '} ${root.runtime.padEnd(11)} ${root.path} (${root.source})${root.found ? `: ${root.models} model(s)` : ''}`);
  if (lines.length > 0) lines.push('');
  if (r.models.length === 0) lines.push('no model files found');
  for (const m of r.models) {
    const mark = m.inspection === 'dangerous' ? 'DANGEROUS' : m.inspection === 'not-inspected' && m.status !== 'flagged' ? 'UNREAD' : m.status.toUpperCase();
    lines.push(`${mark.padEnd(9)}  ${clean(m.name)}  (${m.runtime}, sha256:${m.digest.slice(0, 16)}…)`);
    lines.push(`           ${clean(m.reason)}`);
    for (const f of m.files) {
      if (f.format === 'unknown' && f.findings.length === 0) continue;
      const from = f.digestFrom === 'name' ? ' (digest from its name; --verify re-hashes)' : '';
      const cover = f.coverage.state === 'inspected' ? 'inspected' : `${f.coverage.state.toUpperCase()}${f.coverage.codeCapable ? ' (this format can carry code)' : ''}`;
      lines.push(`           ${clean(f.name)}: ${f.format}, ${cover}, ${f.size} bytes, sha256:${f.sha256.slice(0, 16)}…${from}`);
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
    .option('--dry-run', 'with --attest: print the signed envelopes, publish nothing')
    .addHelpText('after', '\nExit status: 3 when a model is flagged in your view, inspection finds it dangerous, or a file whose format can carry code was not inspected in full (UNREAD); 0 otherwise.\nWith --attest a file is signed clean only when every part of it was inspected; a file not read in full gets no payload finding.\nNothing is ever unpickled or executed: inspection reads headers and opcodes only.')
    .action(action(async (paths: string[], opts: { verify?: boolean; json?: boolean; format: string; attest?: boolean; dryRun?: boolean }) => {
      const format = opts.json ? 'json' : opts.format;
      const home = cli.home();
      const cache = await HashCache.open(join(home.root, 'scan-cache.json'));
      return cli.withClient(async (client) => {
        const bar = progressBar('hashing');
        let report: ScanReport;
        try {
          report = await scan({ paths, verify: opts.verify ?? false, cache, client, suite: nativeSuite(), onBytes: (d, t) => bar.update(d, t), recordIn: home.root });
        } finally {
          bar.stop();
          await cache.save().catch(() => undefined);
        }
        if (format === 'json') cli.json(report);
        else if (format === 'sarif') cli.json(sarif(report));
        else cli.out(table(report));
        if (opts.attest) {
          const identity = await loadIdentity(home.key);
          const now = new Date();
          let stored = 0;
          let refused = 0;
          for (const m of report.models) {
            for (const u of unsignedFiles(m)) cli.err(`chorus: not signed: ${clean(u.model)}: ${clean(u.file)}: ${clean(u.why)}`);
            for (const st of findingStatements(m, identity.did, now)) {
              const envelope = signStatement(st, identity.secretKey);
              if (opts.dryRun) {
                cli.err(JSON.stringify(envelope));
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
        return scanFailed(report) ? EXIT.flagged : EXIT.ok;
      });
    }));
}
