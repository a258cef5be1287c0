import { Command } from 'commander';
import { verifyStore } from '../../store/verify-store.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function verifyStoreCommand(cli: Cli): Command {
  return new Command('verify-store')
    .description('re-check every stored signature and every index entry (streams: memory does not grow with the store)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status: 0 when the store is consistent, 8 when problems were found.')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withNode(async (node) => {
        const report = await verifyStore(node.store, node.suite, {
          onProgress: (n, phase) => process.stderr.isTTY && process.stderr.write(`\r${phase === 'records' ? 'records checked' : phase === 'indexes' ? 'index entries read' : 'locating problems'}: ${n}   `),
        });
        if (process.stderr.isTTY && report.records >= 10_000) process.stderr.write('\n');
        if (opts.json) cli.json(report);
        else {
          for (const p of report.problems) cli.out(`problem (${p.kind}): ${p.id ? `${p.id}: ` : ''}${p.message}`);
          cli.out(`${report.records} attestations, ${report.indexEntries} index entries: ${report.ok ? 'all signatures valid, indexes consistent' : `${report.problems.length} problem(s)`}`);
        }
        return report.ok ? EXIT.ok : EXIT.storeDamaged;
      });
    }));
}
